"""Rendering metric queries: Flagger's variables, trimming, and a clear error for a missing variable
or an expression this renderer does not support (never a half-rendered query)."""

from __future__ import annotations

import re

import pytest

from canary.adapters.metrics.templates import TemplateError, TemplateModel, render

MODEL = TemplateModel(
    name="web",
    namespace="shop",
    target="web",
    service="web-svc",
    ingress="web-ing",
    route="web",
    interval="1m",
    variables={"direction": "inbound"},
)


def test_renders_flagger_variables() -> None:
    query = (
        'sum(rate(x{namespace="{{ namespace }}", pod=~"{{ target }}-.*", dir="{{ variables.direction }}"}'
        "[{{ interval }}]))"
    )
    assert render(query, MODEL) == 'sum(rate(x{namespace="shop", pod=~"web-.*", dir="inbound"}[1m]))'
    assert (
        render("{{ .namespace }}/{{service}}/{{ ingress }}/{{ name }}", MODEL) == "shop/web-svc/web-ing/web"
    )
    assert render("a  {{- target -}}  b", MODEL) == "awebb"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{{ variables.missing }}", "'missing' is not set in templateVariables (set: direction)"),
        ("{{ pod }}", "unknown template variable {{ pod }}"),
        ('{{ printf "%s" target }}', "unsupported template expression"),
        ("{{ target | upper }}", "unsupported template expression"),
        ("{{ variables }}", "needs a key"),
        ("rate(x[{{ interval }}]) }}", "unbalanced"),
    ],
)
def test_refuses_what_it_cannot_render(query: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        render(query, MODEL)
