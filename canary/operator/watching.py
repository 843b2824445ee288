"""Read one Canary for the command line, and follow it through a watch: what ``canary status``,
``canary get canary`` and the requests by hand read.  Every request has a deadline; a watch the API
server ends is started again from the last version seen, and an expired version (410) from the Canary
as it is now."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from kubernetes import client as k8s
from kubernetes import watch

from canary.models.canary import GROUP, VERSION


class NotFound(Exception):
    """There is no such Canary."""


def read_canary(custom: k8s.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    """The Canary now; NotFound when there is none."""
    try:
        found: Any = custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "canaries", name, _request_timeout=10
        )
    except k8s.ApiException as e:
        if e.status == 404:
            raise NotFound(f"Canary {namespace}/{name} not found") from None
        raise
    return dict(found)


def changes(
    custom: k8s.CustomObjectsApi, namespace: str, name: str, version: str, timeout: float
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event type, Canary) for every change after ``version``, until ``timeout`` seconds pass (0:
    never) or the Canary is deleted (the DELETED event is the last one)."""
    deadline = time.monotonic() + (timeout if timeout > 0 else float("inf"))
    while (left := deadline - time.monotonic()) > 0:
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "canaries",
            field_selector=f"metadata.name={name}",
            resource_version=version,
            timeout_seconds=max(1, int(min(left, 60))),
            _request_timeout=min(left, 60) + 10,
        )
        try:
            for event in stream:
                obj: dict[str, Any] = event["object"]
                yield event["type"], obj
                if event["type"] == "DELETED":
                    return
                version = obj["metadata"]["resourceVersion"]
        except k8s.ApiException as e:
            if e.status != 410:
                raise
            current = read_canary(custom, namespace, name)
            version = current["metadata"]["resourceVersion"]
            yield "MODIFIED", current
