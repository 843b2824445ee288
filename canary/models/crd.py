"""Generate the CustomResourceDefinitions in ``crds/`` from the models: one source of truth.

Who calls this: ``canary crds`` (which prints them) and the test that fails when ``crds/*.yaml``
differ from what the models generate.  Pure: it returns dicts; writing files is the caller's business.

Why generate: a hand-written CRD and hand-written models drift apart; here the models are the truth,
and the schema the API server enforces is derived from them.  Pydantic's JSON Schema is turned into a
*structural* OpenAPI v3 schema as Kubernetes requires: ``$ref``s inlined, ``Optional`` unwrapped,
``int | str`` marked ``x-kubernetes-int-or-string``, titles and ``None`` defaults dropped, every node
typed.  Attribute docstrings become descriptions, so ``kubectl explain canary.spec.analysis`` works.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from canary.models.alert_provider import AlertProvider
from canary.models.base import KubeModel
from canary.models.canary import GROUP, VERSION, Canary
from canary.models.metric_template import MetricTemplate

# Keys of pydantic's JSON Schema that OpenAPI v3 in a CRD accepts as they are.
_PASS_THROUGH = {
    "description",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "maxProperties",
    "format",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}


class SchemaError(ValueError):
    """A model cannot be expressed as a structural schema (a bug in the models, found by tests)."""


def _inline(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    """Resolve a ``$ref`` and unwrap ``Optional``: the node as it would read written out in full."""
    node = dict(node)
    if "$ref" in node:
        target = copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[1]])
        # The field's own description wins over the referenced class's docstring.
        target.update({k: v for k, v in node.items() if k != "title"})
        node = target
    if "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o != {"type": "null"}]
        if node.get("x-kubernetes-int-or-string"):
            return node
        if len(options) > 1:
            raise SchemaError(
                f"{path}: a union of {options} has no structural form; use INT_OR_STRING or FREE_FORM"
            )
        inner = _inline(options[0], defs, path)
        node = {**node, **inner, **{k: v for k, v in node.items() if k in _PASS_THROUGH}}
    if node.get("const") is not None:
        node["enum"] = [node.pop("const")]
    return node


def _structural(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    node = _inline(node, defs, path)
    out: dict[str, Any] = {k: v for k, v in node.items() if k in _PASS_THROUGH}
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        out["type"] = "object"
        props = node.get("properties", {})
        if props:
            out["properties"] = {
                name: _structural(sub, defs, f"{path}.{name}") for name, sub in props.items()
            }
        if node.get("required"):
            out["required"] = list(node["required"])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            out["additionalProperties"] = _structural(extra, defs, f"{path}[*]")
    elif kind == "array":
        out["type"] = "array"
        out["items"] = _structural(node.get("items", {}), defs, f"{path}[]")
    elif kind in ("string", "integer", "number", "boolean"):
        out["type"] = kind
        # Scalar defaults only (say, sessionAffinity.maxAge): the API server fills them in.
        if node.get("default") is not None and kind != "string":
            out["default"] = node["default"]
    elif isinstance(node.get("enum"), list) and all(isinstance(v, str) for v in node["enum"]):
        out["type"] = "string"
    elif not (out.get("x-kubernetes-int-or-string") or out.get("x-kubernetes-preserve-unknown-fields")):
        raise SchemaError(f"{path}: no type in {node}")
    return out


def openapi_schema(model: type[KubeModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a model, as ``openAPIV3Schema`` of a CRD."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema = _structural(raw, raw.get("$defs", {}), model.__name__)
    props = schema["properties"]
    props["apiVersion"] = {"type": "string", "description": props["apiVersion"].get("description", "")}
    props["kind"] = {"type": "string", "description": props["kind"].get("description", "")}
    props["metadata"] = {"type": "object"}
    # Status is written by the controller alone; zero values are fine to leave out.
    schema.pop("required", None)
    schema["required"] = ["spec"]
    status = props.get("status")
    if status is not None:
        for sub in status.get("properties", {}).values():
            sub.pop("default", None)
    return schema


@dataclass(frozen=True)
class Column:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0


@dataclass(frozen=True)
class Kind:
    model: type[KubeModel]
    kind: str
    plural: str
    singular: str
    short_names: list[str] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    status: bool = True


KINDS = [
    Kind(
        Canary,
        "Canary",
        "canaries",
        "canary",
        ["cn"],
        [
            Column("Status", ".status.phase"),
            Column("Weight", ".status.canaryWeight"),
            Column("Suspended", ".spec.suspend", "boolean", 1),
            Column("FailedChecks", ".status.failedChecks", priority=1),
            Column("Iterations", ".status.iterations", "integer", 1),
            Column("Interval", ".spec.analysis.interval", priority=1),
            Column("Mirror", ".spec.analysis.mirror", "boolean", 1),
            Column("StepWeight", ".spec.analysis.stepWeight", priority=1),
            Column("StepWeights", ".spec.analysis.stepWeights", priority=1),
            Column("MaxWeight", ".spec.analysis.maxWeight", priority=1),
            Column("LastTransitionTime", ".status.lastTransitionTime"),
        ],
    ),
    Kind(MetricTemplate, "MetricTemplate", "metrictemplates", "metrictemplate", ["mt"],
         [Column("Provider", ".spec.provider.type")], status=False),
    Kind(AlertProvider, "AlertProvider", "alertproviders", "alertprovider", ["ap"],
         [Column("Type", ".spec.type")], status=False),
]  # fmt: skip


def crd(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": openapi_schema(kind.model)},
        "additionalPrinterColumns": [
            {
                "name": c.name,
                "type": c.type,
                "jsonPath": c.json_path,
                **({"priority": c.priority} if c.priority else {}),
            }
            for c in kind.columns
        ]
        + [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
    }
    if kind.status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": kind.short_names,
                "categories": ["all"],
            },
            "scope": "Namespaced",
            "versions": [version],
        },
    }


def all_crds() -> dict[str, dict[str, Any]]:
    """File name in ``crds/`` -> CRD, for every kind."""
    return {f"{k.plural}.yaml": crd(k) for k in KINDS}
