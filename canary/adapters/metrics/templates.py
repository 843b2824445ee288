"""Render a metric query: Flagger's template variables, and an error for anything unknown.

Who calls this: the analysis, for ``MetricTemplate.spec.query`` and the builtin queries.  Flagger
renders with Go's text/template (``missingkey=error``) exposing the model as zero-argument functions,
so queries write ``{{ namespace }}``, ``{{ target }}``, ``{{ variables.name }}``.  Python has no
text/template; queries only ever use such plain references, so this renderer accepts exactly those
(with or without a leading dot, with ``{{-``/``-}}`` trimming) and refuses every other expression by
name, rather than pass a half-rendered query to Prometheus.  A missing variable is an error, never an
empty string: an empty label value would quietly select other series.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_EXPRESSION = re.compile(r"(\s*)\{\{(-?)(.*?)(-?)\}\}(\s*)", re.DOTALL)
_REFERENCE = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_-]+))?")


class TemplateError(ValueError):
    """A query that cannot be rendered; the message names the expression."""


@dataclass(frozen=True)
class TemplateModel:
    """The variables a query may use (Flagger's metric template model)."""

    #: the Canary's name
    name: str
    namespace: str
    #: the workload measured: the target (canary side) or ``<target>-primary`` (primary side)
    target: str
    #: the apex Service name
    service: str
    #: ``spec.ingressRef.name``, else the target
    ingress: str
    #: ``spec.routeRef.name``, else the target
    route: str
    #: the metric's query window, e.g. 1m
    interval: str
    variables: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, head: str, key: str | None) -> str:
        if head == "variables":
            if key is None:
                raise TemplateError("{{ variables }} needs a key: {{ variables.NAME }}")
            if key not in self.variables:
                known = ", ".join(sorted(self.variables)) or "none"
                raise TemplateError(f"variable {key!r} is not set in templateVariables (set: {known})")
            return self.variables[key]
        if key is not None:
            raise TemplateError(f"unknown template expression {{{{ {head}.{key} }}}}")
        values = {
            "name": self.name,
            "namespace": self.namespace,
            "target": self.target,
            "service": self.service,
            "ingress": self.ingress,
            "route": self.route,
            "interval": self.interval,
        }
        if head not in values:
            known = ", ".join([*sorted(values), "variables.NAME"])
            raise TemplateError(f"unknown template variable {{{{ {head} }}}} (known: {known})")
        return values[head]


def render(query: str, model: TemplateModel) -> str:
    """``query`` with every ``{{ ... }}`` replaced; raises ``TemplateError``."""

    def substitute(match: re.Match[str]) -> str:
        before, trim_left, body, trim_right, after = match.groups()
        reference = _REFERENCE.fullmatch(body.strip())
        if reference is None:
            raise TemplateError(f"unsupported template expression {{{{{body}}}}}: only plain variables are")
        value = model.lookup(reference.group(1), reference.group(2))
        return ("" if trim_left else before) + value + ("" if trim_right else after)

    rendered = _EXPRESSION.sub(substitute, query)
    if "{{" in rendered or "}}" in rendered:
        raise TemplateError("unbalanced {{ or }} in the query")
    return rendered
