"""Requests by hand to a running Canary: ``canary promote|abort|retry|pause|resume|undo NAME`` and
``canary set image NAME CONTAINER=IMAGE``.

Who calls this: the ``canary`` command line (and so ``kubectl canary``), with an API client from the
user's kubeconfig.  What it writes: the ``canary.dev/request`` annotation (``canary.models.requests``)
naming who asks (a SelfSubjectReview), and, for pause and resume, ``spec.suspend`` in the same patch
(Flagger's field, so a suspended Canary reads the same to both).  Then it waits for the controller's
answer in ``status.lastRequest`` and returns it: the controller's state machine alone decides whether
the request applies to the phase, so the command line and the controller can never disagree.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s

from canary.models.canary import GROUP, VERSION
from canary.models.requests import REQUEST_ANNOTATION, Request, RequestAction, RequestStatus
from canary.operator.byhand import Refused, who
from canary.operator.watching import NotFound, read_canary


class NoAnswer(Exception):
    """The controller did not answer in time (not running, not leading, or the Canary cannot be read)."""


def ask(
    api: k8s.ApiClient,
    namespace: str,
    name: str,
    action: RequestAction,
    *,
    full: bool = False,
    images: tuple[tuple[str, str], ...] = (),
    by: str | None = None,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> RequestStatus:
    """Write the request and wait for its answer; Refused when the Canary is not there."""
    custom = k8s.CustomObjectsApi(api)
    user = who(api)
    request = Request(secrets.token_hex(8), action, by or user, full, images)
    patch: dict[str, Any] = {"metadata": {"annotations": {REQUEST_ANNOTATION: request.wire()}}}
    if action in (RequestAction.PAUSE, RequestAction.RESUME):
        patch["spec"] = {"suspend": action is RequestAction.PAUSE}
    try:
        read_canary(custom, namespace, name)
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "canaries", name, patch, _request_timeout=10
        )
    except NotFound as e:
        raise Refused(str(e)) from None
    except k8s.ApiException as e:
        if e.status == 403:
            raise Refused(
                f"forbidden: {user} may not get and patch canaries in namespace {namespace} "
                "(the canary-operator ClusterRole of deploy/operator-rbac.yaml grants it)"
            ) from None
        raise
    deadline = time.monotonic() + timeout
    while True:
        last = read_canary(custom, namespace, name)
        answer = (last.get("status") or {}).get("lastRequest") or {}
        if answer.get("id") == request.id:
            return RequestStatus.model_validate(answer)
        if time.monotonic() >= deadline:
            phase = (last.get("status") or {}).get("phase") or "None"
            raise NoAnswer(
                f"no answer to {request.describe()} within {timeout:g}s (the Canary is {phase}): is the "
                "controller running, and watching this namespace? The request stays on the Canary "
                f"(annotation {REQUEST_ANNOTATION}) and is answered when the controller sees it."
            )
        sleep(0.25)
