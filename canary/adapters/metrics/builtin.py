"""Flagger's builtin metrics, ``request-success-rate`` (percent) and ``request-duration``
(milliseconds), as query templates per metrics provider, for the canary and for the primary.

Who calls this: the analysis, which renders the template (``templates.render``) for the side it
queries.  The canary-side queries are Flagger's, written with the same selectors (so a Flagger user's
dashboards and expectations carry over); the primary-side queries select the primary's workload the
same way (``{{ target }}`` is ``<target>-primary`` there, or the label that tells the sides apart),
which is what the judge compares against.  Kubernetes and Gateway API use the application's own
``http_request_duration_seconds`` histogram, as Flagger's "http" observer does.
"""

from __future__ import annotations

from enum import StrEnum


class Observer(StrEnum):
    """Whose metric names and labels the builtin queries use."""

    KUBERNETES = "kubernetes"  # the application's http_request_duration_seconds (also gatewayapi)
    ISTIO = "istio"
    LINKERD = "linkerd"
    NGINX = "nginx"
    CONTOUR = "contour"
    TRAEFIK = "traefik"  # Traefik's own metrics, for the TraefikService's weighted backends
    OSM = "osm"  # Open Service Mesh's Envoy sidecars


SUCCESS_RATE = "request-success-rate"
DURATION = "request-duration"
BUILTIN = (SUCCESS_RATE, DURATION)


_RATIO = "sum(rate(GOOD[{{ interval }}])) / sum(rate(TOTAL[{{ interval }}])) * 100"
_P99 = "histogram_quantile(0.99, sum(rate(BUCKET[{{ interval }}])) by (le))"
_MEAN_MS = "sum(rate(SUM[{{ interval }}])) / sum(rate(COUNT[{{ interval }}])) * 1000"

_POD = "{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
_SELECTORS = {
    Observer.KUBERNETES: 'kubernetes_namespace="{{ namespace }}", kubernetes_pod_name=~"' + _POD + '"',
    Observer.ISTIO: (
        'reporter="destination", destination_workload_namespace="{{ namespace }}", '
        'destination_workload=~"{{ target }}"'
    ),
    Observer.LINKERD: 'namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound"',
    Observer.NGINX: 'namespace="{{ namespace }}", ingress="{{ ingress }}", CANARY',
    Observer.CONTOUR: 'envoy_cluster_name=~"{{ namespace }}_{{ service }}-SIDE_[0-9a-zA-Z-]+"',
    Observer.TRAEFIK: 'service=~"{{ namespace }}-{{ service }}-SIDE-[0-9a-zA-Z-]+@kubernetescrd"',
    Observer.OSM: (
        'destination_namespace="{{ namespace }}", destination_kind="Deployment", '
        'destination_name="{{ target }}"'
    ),
}
#: (series counted, label filter of the good ones) for the success rate
_REQUESTS = {
    Observer.KUBERNETES: ("http_request_duration_seconds_count", 'status!~"5.*"'),
    Observer.ISTIO: ("istio_requests_total", 'response_code!~"5.*"'),
    Observer.LINKERD: ("response_total", 'classification!="failure"'),
    Observer.NGINX: ("nginx_ingress_controller_requests", 'status!~"5.*"'),
    Observer.CONTOUR: ("envoy_cluster_upstream_rq", 'envoy_response_code!~"5.*"'),
    Observer.TRAEFIK: ("traefik_service_requests_total", 'code!~"5.."'),
    Observer.OSM: ("osm_request_total", 'response_code!~"5.*"'),
}
#: histogram buckets for the p99, and the factor to milliseconds
_LATENCY = {
    Observer.KUBERNETES: ("http_request_duration_seconds_bucket", " * 1000"),
    Observer.ISTIO: ("istio_request_duration_milliseconds_bucket", ""),
    Observer.LINKERD: ("response_latency_ms_bucket", ""),
    Observer.CONTOUR: ("envoy_cluster_upstream_rq_time_bucket", ""),
    Observer.TRAEFIK: ("traefik_service_request_duration_seconds_bucket", " * 1000"),
    Observer.OSM: ("osm_request_duration_ms_bucket", ""),
}


#: Increase over the window of counters that may be created mid-window: a proxy creates the series of
#: a status code at its first request with that code (Traefik's code="500" appears with the first
#: error), and rate()/increase() see nothing of a series until it has two samples in the window and
#: miss what it counted before its first one, so a canary's first errors go unseen.  Here a series
#: absent at the window's start counts from zero; a counter reset cannot make it negative.
_FROM_ZERO = "sum(clamp_min(SERIES - (SERIES offset {{ interval }} * 1 or SERIES * 0), 0))"
#: observers whose success rate and counts are taken with _FROM_ZERO (Flagger's own queries are kept
#: as they are for the others, which share the caveat)
_COUNTED_FROM_ZERO = frozenset({Observer.TRAEFIK})


def _selector(provider: Observer, side: str) -> str:
    return (
        _SELECTORS[provider]
        .replace("CANARY", 'canary!=""' if side == "canary" else 'canary=""')
        .replace("SIDE", side)
    )


def query(provider: Observer, metric: str, side: str = "canary") -> str:
    """The query template of builtin ``metric`` for ``side`` ("canary" or "primary")."""
    if metric not in BUILTIN:
        raise KeyError(metric)
    selector = _selector(provider, side)
    if metric == SUCCESS_RATE and provider in _COUNTED_FROM_ZERO:
        good, total = counts(provider, side)
        return f"{good} / {total} * 100"
    if metric == SUCCESS_RATE:
        series, good = _REQUESTS[provider]
        return _RATIO.replace("GOOD", f"{series}{{{selector}, {good}}}").replace(
            "TOTAL", f"{series}{{{selector}}}"
        )
    if provider is Observer.NGINX:
        # Flagger's nginx "duration" is the mean, not a percentile: the ingress controller exports no
        # histogram per canary that would allow one.
        base = "nginx_ingress_controller_response_duration_seconds"
        return _MEAN_MS.replace("SUM", f"{base}_sum{{{selector}}}").replace(
            "COUNT", f"{base}_count{{{selector}}}"
        )
    bucket, to_ms = _LATENCY[provider]
    return _P99.replace("BUCKET", f"{bucket}{{{selector}}}") + to_ms


_INCREASE = "sum(increase(SERIES[{{ interval }}]))"


def counts(provider: Observer, side: str = "canary") -> tuple[str, str]:
    """Query templates of the succeeded and of all requests of ``side`` over ``{{ interval }}``: the
    judge compares success rates by their counts.  (nginx exports its requests the same way.)"""
    selector = _selector(provider, side)
    series, good = _REQUESTS[provider]
    template = _FROM_ZERO if provider in _COUNTED_FROM_ZERO else _INCREASE
    return (
        template.replace("SERIES", f"{series}{{{selector}, {good}}}"),
        template.replace("SERIES", f"{series}{{{selector}}}"),
    )
