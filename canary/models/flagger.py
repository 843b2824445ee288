"""Convert Flagger manifests (``flagger.app/v1beta1``) to canary's (``canary.dev/v1alpha1``).

Who calls this: ``canary convert FILE`` (which reads and writes the YAML, keeping comments).  Pure:
it edits mappings in place and returns notes for people.  Our Canary is a superset of Flagger's, so
the apiVersion is the only change a valid Flagger manifest needs; the notes name everything else:
renamed deprecated fields, Flagger's provider values with a suffix (``smi:v1alpha3:osm``,
``gloo:<anything>``, ``appmesh:v1beta2:<anything>``: Flagger matches those by prefix) written as the
value they select, and what our schema refuses where Flagger silently falls back (an unknown
provider, an interval Go cannot parse), each with the field.  A provider canary has no router for
is refused with the reason (``canary.models.providers``): the Canary would be reported as invalid.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from pydantic import ValidationError

from canary.models.alert_provider import AlertProvider
from canary.models.canary import API_VERSION, Canary, Provider
from canary.models.metric_template import MetricTemplate
from canary.models.providers import UNSUPPORTED

FLAGGER_API_VERSION = "flagger.app/v1beta1"
MODELS: dict[str, Any] = {"Canary": Canary, "MetricTemplate": MetricTemplate, "AlertProvider": AlertProvider}


#: Flagger's prefix matches (``pkg/router/factory.go``): a value starting with one selects it
_PREFIXES = ("smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3", "appmesh:v1beta2", "gloo", "gatewayapi:v1beta1")


def _provider(value: object) -> str | None:
    """The provider a suffixed Flagger value selects (None: the value is not one)."""
    if not isinstance(value, str) or value in set(Provider):
        return None
    for prefix in _PREFIXES:
        if value.startswith(prefix):
            return prefix
    if value.startswith("gatewayapi:v1"):
        return "gatewayapi:v1"
    return None


def _where(doc: MutableMapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    name = meta.get("name", "?")
    return (
        f"{doc.get('kind')} {meta['namespace']}/{name}"
        if meta.get("namespace")
        else f"{doc.get('kind')} {name}"
    )


def convert_document(doc: Any) -> tuple[list[str], list[str]]:
    """Convert one document in place; return (notes, refusals): what changed, and what canary
    still refuses in the converted document (both empty when there was nothing to say)."""
    if not isinstance(doc, MutableMapping) or doc.get("apiVersion") != FLAGGER_API_VERSION:
        return [], []
    kind = doc.get("kind")
    if kind not in MODELS:
        return [f"{_where(doc)}: kind {kind} has no canary.dev equivalent; left unchanged"], []
    where = _where(doc)
    doc["apiVersion"] = API_VERSION
    notes = [f"{where}: apiVersion {FLAGGER_API_VERSION} -> {API_VERSION}"]
    spec = doc.get("spec")
    if (
        kind == "Canary"
        and isinstance(spec, MutableMapping)
        and "canaryAnalysis" in spec
        and "analysis" not in spec
    ):
        spec["analysis"] = spec.pop("canaryAnalysis")
        notes.append(f"{where}: spec.canaryAnalysis (deprecated) renamed to spec.analysis")
    if kind == "Canary" and isinstance(spec, MutableMapping):
        selected = _provider(spec.get("provider"))
        if selected is not None:
            notes.append(f"{where}: spec.provider {spec['provider']} -> {selected} (the provider it selects)")
            spec["provider"] = selected
    refusals: list[str] = []
    try:
        MODELS[kind].model_validate(doc)
    except ValidationError as e:
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"])
            refusals.append(f"{where}: {field}: {err['msg']} (canary refuses this; fix it before applying)")
    else:
        provider = spec.get("provider") if kind == "Canary" and isinstance(spec, MutableMapping) else None
        if provider is not None and Provider(provider) in UNSUPPORTED:
            refusals.append(f"{where}: spec.provider: {UNSUPPORTED[Provider(provider)]}")
    return notes, refusals
