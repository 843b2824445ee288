"""The base of every model that mirrors a Kubernetes object, and the small value types they share.

Who uses this: every module in ``canary.models``.  Why: one ``model_config`` gives all models camelCase
aliases (the wire format), attribute docstrings as schema descriptions (so ``crds/`` carries them and
``kubectl explain`` shows them), immutability (the decision core returns new values, never mutates),
and tolerance of unknown fields (the API server prunes them anyway; the controller must never crash on
a field a newer CRD added).

Markers understood by ``canary.models.crd`` when it turns these models into OpenAPI schemas:
``INT_OR_STRING``, ``FREE_FORM`` and ``cel(...)`` below.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class KubeModel(BaseModel):
    """Base of the CRD models: camelCase on the wire, snake_case in Python, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        extra="ignore",
        frozen=True,
    )

    def wire(self) -> dict[str, Any]:
        """The object as the API server wants it: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


#: ``json_schema_extra`` marker: an ``int | str`` field (a port number or a port name).
INT_OR_STRING: dict[str, Any] = {"x-kubernetes-int-or-string": True}
#: ``json_schema_extra`` marker: an object whose shape belongs to another API (kept as written).
FREE_FORM: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, Any]:
    """A CEL validation rule for the CRD, enforced by the API server (``x-kubernetes-validations``)."""
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


# Go duration syntax ("10s", "1m30s", "500ms").  Flagger's CRD pattern ^[0-9]+(m|s) lets "5min" through
# and then silently falls back to 60s at run time; we refuse such values with a schema error instead.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=64)]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: str) -> float:
    """Seconds in a Go-style duration string; ``ValueError`` when it is not one."""
    if not re.fullmatch(DURATION_PATTERN, value):
        raise ValueError(f"{value!r} is not a duration such as 30s, 1m or 1m30s")
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value))


def format_duration(seconds: float) -> str:
    """The shortest Go-style spelling of a whole number of seconds (``90`` -> ``1m30s``)."""
    total = round(seconds)
    if total <= 0:
        return "0s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return out
