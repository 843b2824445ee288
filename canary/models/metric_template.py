"""The ``MetricTemplate`` resource: a reusable, parameterised metric query and the provider it runs on.

Who uses this: the analysis (metrics adapters) renders ``spec.query`` with the Flagger template
variables and sends it to ``spec.provider``.  Like Flagger's, minus its silent fallback: an unknown
provider type is refused by the schema rather than treated as Prometheus.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from canary.models.base import KubeModel
from canary.models.canary import API_VERSION


class SecretRef(KubeModel):
    name: Annotated[str, Field(min_length=1)]
    """Name of a Secret in the template's namespace."""


class MetricProvider(KubeModel):
    type: Literal["prometheus"]
    """Provider type.  prometheus is supported."""
    address: str | None = None
    """URL of the provider; default the controller's metrics server."""
    secret_ref: SecretRef | None = None
    """Secret with the credentials: token (bearer), or username and password (basic auth)."""
    headers: dict[str, list[str]] | None = None
    """HTTP headers added to every query."""
    region: str | None = None
    """Region (kept for Flagger compatibility; not used by prometheus)."""
    insecure_skip_verify: bool | None = None
    """Skip TLS certificate verification."""


class MetricTemplateSpec(KubeModel):
    provider: MetricProvider
    """Where the query runs."""
    query: Annotated[str, Field(min_length=1)]
    """The query, with {{ namespace }}, {{ target }}, {{ service }}, {{ ingress }}, {{ interval }} and
    {{ variables.NAME }} placeholders."""


class MetricTemplate(KubeModel):
    """A reusable metric query."""

    api_version: Literal["canary.dev/v1alpha1"] = API_VERSION
    """canary.dev/v1alpha1."""
    kind: Literal["MetricTemplate"] = "MetricTemplate"
    """MetricTemplate."""
    metadata: Annotated[dict[str, Any], Field(json_schema_extra={"type": "object"})] = Field(
        default_factory=dict
    )
    """Standard object metadata."""
    spec: MetricTemplateSpec
    """The query and its provider."""
