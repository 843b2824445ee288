"""The ``AlertProvider`` resource: where notifications about a canary go.

Who uses this: the notifiers, for every ``analysis.alerts[]`` entry of a Canary.  Types are those
this controller can send; Flagger's rocket and gchat are refused by the schema rather than dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from canary.models.base import KubeModel, cel
from canary.models.canary import API_VERSION
from canary.models.metric_template import SecretRef


class AlertProviderSpec(KubeModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.address) || has(self.secretRef)",
                    "set address or secretRef (with an address key)",
                )
            ]
        }
    )

    type: Literal["slack", "msteams", "discord", "webhook"]
    """Where messages go: slack, msteams, discord, or webhook (generic JSON)."""
    channel: str | None = None
    """Channel (slack); default general."""
    username: str | None = None
    """Sender name (slack, discord); default canary."""
    address: Annotated[str, Field(pattern=r"^https?://", max_length=2048)] | None = None
    """Webhook URL; or take it from the Secret."""
    proxy: str | None = None
    """HTTP proxy for the requests."""
    secret_ref: SecretRef | None = None
    """Secret with the key address, and optionally token (sent as a bearer token)."""


class AlertProvider(KubeModel):
    """A notification target."""

    api_version: Literal["canary.dev/v1alpha1"] = API_VERSION
    """canary.dev/v1alpha1."""
    kind: Literal["AlertProvider"] = "AlertProvider"
    """AlertProvider."""
    metadata: Annotated[dict[str, Any], Field(json_schema_extra={"type": "object"})] = Field(
        default_factory=dict
    )
    """Standard object metadata."""
    spec: AlertProviderSpec
    """Where and how to send."""
