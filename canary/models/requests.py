"""What a person asks of a running Canary (promote, abort, retry, pause, resume, set image, undo), and
how it is answered.

Who writes a request: ``canary promote|abort|retry|pause|resume NAME`` (and ``kubectl canary ...``), as
the annotation ``canary.dev/request`` on the Canary, a JSON object ``{"id", "action", "by", "full",
"images"}``.
Who honours it: the controller's next tick (the annotation wakes it), which decides in the state
machine whether it applies to the phase, records the answer in ``status.lastRequest`` (the id, who
asked, accepted or not, and why) with an event naming who asked, and then removes the annotation.
An answered id is never acted on twice, so an annotation left behind by a failed removal is harmless.

Who may ask is RBAC's: ``patch`` on ``canaries`` (the ``canary-operator`` ClusterRole in deploy/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from canary.models.base import KubeModel

REQUEST_ANNOTATION = "canary.dev/request"
#: Bounds of what is read from the annotation (anything else is refused, not parsed).
MAX_REQUEST_BYTES = 4096
#: On the primary: the target's pod template as promoted, with its revision (what `canary undo` restores).
PROMOTED_TEMPLATE_ANNOTATION = "canary.dev/promoted-template"


class RequestAction(StrEnum):
    PROMOTE = "promote"
    ABORT = "abort"
    RETRY = "retry"
    PAUSE = "pause"
    RESUME = "resume"
    SET_IMAGE = "set-image"
    UNDO = "undo"


@dataclass(frozen=True)
class Request:
    id: str
    action: RequestAction
    by: str
    #: promote: skip the remaining steps and the analysis (otherwise: the next step only)
    full: bool = False
    #: set-image: (container, image) pairs
    images: tuple[tuple[str, str], ...] = ()

    @property
    def what(self) -> str:
        if self.full:
            return "promote --full"
        if self.images:
            return "set image " + " ".join(f"{c}={i}" for c, i in self.images)
        return self.action.value

    def describe(self) -> str:
        return f"{self.what} (asked by {self.by})"

    def wire(self) -> str:
        doc: dict[str, object] = {"id": self.id, "action": self.action.value, "by": self.by}
        doc["full"] = self.full
        if self.images:
            doc["images"] = dict(self.images)
        return json.dumps(doc)


class BadRequest(ValueError):
    """The annotation is not a request canary understands; the message names what is wrong."""


def parse_request(annotations: dict[str, str] | None) -> Request | None:
    """The request in ``annotations``, None without one; BadRequest when it cannot be read."""
    raw = (annotations or {}).get(REQUEST_ANNOTATION)
    if raw is None:
        return None
    if len(raw) > MAX_REQUEST_BYTES:
        raise BadRequest(f"metadata.annotations[{REQUEST_ANNOTATION}]: longer than {MAX_REQUEST_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except ValueError:
        raise BadRequest(f"metadata.annotations[{REQUEST_ANNOTATION}]: not a JSON object") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"metadata.annotations[{REQUEST_ANNOTATION}]: not a JSON object")
    rid, action, by, full = doc.get("id"), doc.get("action"), doc.get("by"), doc.get("full", False)
    if not isinstance(rid, str) or not 1 <= len(rid) <= 64:
        raise BadRequest(f"metadata.annotations[{REQUEST_ANNOTATION}].id: a string of 1 to 64 characters")
    if action not in {a.value for a in RequestAction}:
        choices = ", ".join(a.value for a in RequestAction)
        raise BadRequest(f"metadata.annotations[{REQUEST_ANNOTATION}].action: one of {choices}")
    if not isinstance(by, str) or not 1 <= len(by) <= 256:
        raise BadRequest(f"metadata.annotations[{REQUEST_ANNOTATION}].by: a string of 1 to 256 characters")
    if not isinstance(full, bool):
        raise BadRequest(f"metadata.annotations[{REQUEST_ANNOTATION}].full: true or false")
    images = doc.get("images", {})
    if not isinstance(images, dict) or not all(
        isinstance(c, str) and isinstance(i, str) and c and i and len(i) <= 512 for c, i in images.items()
    ):
        raise BadRequest(f"metadata.annotations[{REQUEST_ANNOTATION}].images: a map of container to image")
    if (action == RequestAction.SET_IMAGE.value) != bool(images):
        raise BadRequest(
            f"metadata.annotations[{REQUEST_ANNOTATION}].images: set-image needs it, nothing else takes it"
        )
    return Request(rid, RequestAction(action), by, full, tuple(sorted(images.items())))


class RequestStatus(KubeModel):
    """The answer to the last request."""

    id: Annotated[str, Field(max_length=64)]
    """The request's id (the CLI waits for it)."""
    action: str
    """What was asked (promote, promote --full, abort, retry, pause, resume)."""
    by: Annotated[str, Field(max_length=256)]
    """Who asked, as the request names them."""
    accepted: bool
    """Whether it applied to the phase and was done."""
    message: str
    """What was done, or why not."""
    at: str
    """When it was answered (RFC 3339)."""
