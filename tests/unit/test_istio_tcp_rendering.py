"""The istio router for a TCP service (``service.appProtocol: tcp``, Flagger's rule): one weighted tcp
route, ports from service.match, and refusals naming the field for what only HTTP routes can do."""

from __future__ import annotations

import re
from typing import Any

import pytest

from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.istio import IstioRouter
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes
from tests.unit.core.sim import make_spec


def context(analysis: dict[str, Any] | None = None, **service: Any) -> RouteContext:
    svc = {"port": 5432, "name": "db", "appProtocol": "TCP", **service}
    return RouteContext(
        make_spec(analysis or {"stepWeight": 10}, provider="istio", service=svc), "shop", "db", "app", "db"
    )


def test_a_tcp_service_gets_one_weighted_tcp_route() -> None:
    ctx = context(match=[{"port": 5432}])
    vs = IstioRouter().virtual_service(ctx, Routes(80, 20))
    assert vs["spec"] == {
        "tcp": [
            {
                "route": [
                    {"destination": {"host": "db-primary"}, "weight": 80},
                    {"destination": {"host": "db-canary"}, "weight": 20},
                ],
                "match": [{"port": 5432}],
            }
        ],
        "hosts": ["db"],
        "gateways": ["mesh"],
    }
    ref = IstioRouter().refs(ctx)[-1]
    assert IstioRouter().read(ctx, {ref: vs}) == Routes(80, 20)


def test_the_handback_sends_the_tcp_route_to_the_apex_service() -> None:
    ((_, vs),), deleted = (
        IstioRouter().handback(context(), {})[0][-1:],
        IstioRouter().handback(context(), {})[1],
    )
    assert vs["spec"]["tcp"] == [{"route": [{"destination": {"host": "db"}, "weight": 100}]}]
    assert "http" not in vs["spec"]
    assert [r.name for r in deleted] == ["db-primary", "db-canary"]


@pytest.mark.parametrize(
    ("analysis", "service", "field"),
    [
        (
            {"iterations": 3, "match": [{"headers": {"x": {"exact": "1"}}}]},
            {},
            "spec.analysis.match[0].headers",
        ),
        ({"iterations": 3, "mirror": True}, {}, "spec.analysis.mirror"),
        ({"stepWeight": 10}, {"timeout": "5s"}, "spec.service.timeout"),
        ({"stepWeight": 10}, {"retries": {"attempts": 2}}, "spec.service.retries"),
        ({"stepWeight": 10}, {"match": [{"uri": {"prefix": "/"}}]}, "spec.service.match[0].uri"),
    ],
)
def test_what_only_http_routes_do_is_refused_for_a_tcp_service(
    analysis: dict[str, Any], service: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidSpec, match=rf"^{re.escape(field)}: spec\.service\.appProtocol is tcp"):
        IstioRouter().virtual_service(context(analysis, **service), Routes(90, 10))
