"""The controller's own Prometheus metrics (Flagger's set, named ``canary_*``).

Who calls this: ``canary.operator.tick`` after every tick.  The registry is injected, so tests use a
fresh one and ``canary run --metrics-address`` serves the process's.

* ``canary_info{version}``: 1.
* ``canary_status{name,namespace}``: 0 while a rollout is in progress, 1 idle or succeeded, 2 failed.
* ``canary_weight{workload,namespace}``: traffic percent of ``<target>-primary`` and ``<target>``.
* ``canary_phase{name,namespace,phase}``: 1 for the current phase (the others are 0).
* ``canary_tick_duration_seconds{name,namespace}``: time spent in one tick.
* ``canary_successes_total`` / ``canary_failures_total{name,namespace,strategy}``: finished rollouts.
* ``canary_tick_lag_seconds``: how late each due tick started, in its worker thread, against its
  schedule (one interval after the previous due tick started).
* ``canary_wakeups_total{source}``: ticks requested by watches (deployment, configmap, secret, spec).
* ``canary_metric_value{name,namespace,metric}``: the last value of each analysis metric (the
  canary's instant value; for a compared metric without a range, the canary's median).
* ``canary_judge_p_value{name,namespace,metric}``, ``canary_judge_shift{name,namespace,metric}``: the
  last judgement of each compared metric (Holm-adjusted p-value; shift canary minus primary).
* ``canary_judge_score{name,namespace}``: the judge's last score, 0-100.
* ``canary_analysis_checks_total{name,namespace,result}``: analysis checks by result (passed, failed,
  held).
* ``canary_api_requests_total{method,resource}``: Kubernetes API requests made by the ticks (kopf's
  own watches and patches are not counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from canary.core.observations import CheckOutcome
from canary.models.canary import Phase

_PROGRESSING = {Phase.PROGRESSING, Phase.WAITING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING}


def resource_of(url: str) -> str:
    """The resource (and subresource) a request URL names: ``canaries/status``, ``events``.

    Bounded by the kinds the controller touches, unlike the URL (one series per object).
    """
    parts = [p for p in urlsplit(url).path.split("/") if p]
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else parts
    if parts[:1] == ["namespaces"] and len(parts) > 2:
        parts = parts[2:]
    return "/".join(parts[:1] + parts[2:3]) or "unknown"


class MetricsRecorder:
    def __init__(self, registry: CollectorRegistry, version: str) -> None:
        Gauge("canary_info", "canary controller information", ["version"], registry=registry).labels(
            version
        ).set(1)
        self.status = Gauge(
            "canary_status",
            "0 rollout in progress, 1 idle or succeeded, 2 failed",
            ["name", "namespace"],
            registry=registry,
        )
        self.weight = Gauge(
            "canary_weight", "traffic weight percent", ["workload", "namespace"], registry=registry
        )
        self.phase = Gauge(
            "canary_phase", "1 for the current phase", ["name", "namespace", "phase"], registry=registry
        )
        self.duration = Histogram(
            "canary_tick_duration_seconds", "time spent in one tick", ["name", "namespace"], registry=registry
        )
        self.successes = Counter(
            "canary_successes", "rollouts promoted", ["name", "namespace", "strategy"], registry=registry
        )
        self.failures = Counter(
            "canary_failures", "rollouts rolled back", ["name", "namespace", "strategy"], registry=registry
        )
        self.lag = Histogram(
            "canary_tick_lag_seconds",
            "how late a due tick started against its schedule",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=registry,
        )
        labels = ["name", "namespace", "metric"]
        self.metric_value = Gauge(
            "canary_metric_value", "last value of an analysis metric", labels, registry=registry
        )
        self.judge_p_value = Gauge(
            "canary_judge_p_value", "Holm-adjusted p-value of the last judgement", labels, registry=registry
        )
        self.judge_shift = Gauge(
            "canary_judge_shift",
            "shift canary minus primary in the last judgement",
            labels,
            registry=registry,
        )
        self.judge_score = Gauge(
            "canary_judge_score", "the judge's last score (0-100)", ["name", "namespace"], registry=registry
        )
        self.analysis_checks = Counter(
            "canary_analysis_checks",
            "analysis checks by result",
            ["name", "namespace", "result"],
            registry=registry,
        )
        self.wakeups = Counter("canary_wakeups", "ticks requested by watches", ["source"], registry=registry)
        self.rollback_route = Histogram(
            "canary_rollback_route_seconds",
            "from a rollback decision to the router's answer that all traffic goes to the primary",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
            registry=registry,
        )
        self._children: dict[tuple[str, str], _Children] = {}
        self.api_requests = Counter(
            "canary_api_requests",
            "Kubernetes API requests made by ticks",
            ["method", "resource"],
            registry=registry,
        )

    def count_requests(self, api: Any) -> None:
        """Count every request an injected kubernetes ApiClient makes (wraps its ``call_api``)."""
        call = api.call_api

        def counted(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            self.api_requests.labels(method, resource_of(url)).inc()
            return call(method, url, *args, **kwargs)

        api.call_api = counted

    def analysis(self, name: str, namespace: str, outcome: CheckOutcome) -> None:
        """Export the evidence of an analysis check."""
        self.analysis_checks.labels(name, namespace, outcome.result).inc()
        if outcome.score is not None:
            self.judge_score.labels(name, namespace).set(outcome.score)
        for e in outcome.evidence:
            value = e.value if e.value is not None else e.canary_median
            if value is not None:
                self.metric_value.labels(name, namespace, e.name).set(value)
            if e.p_value is not None:
                self.judge_p_value.labels(name, namespace, e.name).set(e.p_value)
            if e.shift is not None:
                self.judge_shift.labels(name, namespace, e.name).set(e.shift)

    def record(
        self,
        *,
        name: str,
        namespace: str,
        target: str,
        strategy: str,
        before: Phase,
        after: Phase,
        weight: int,
        seconds: float,
    ) -> None:
        children = self._children.get((namespace, name))
        if children is None or children.target != target:
            # Looking a labelled child up costs more than the update itself: once per canary.
            children = _Children(
                target=target,
                duration=self.duration.labels(name, namespace),
                status=self.status.labels(name, namespace),
                phases={p: self.phase.labels(name, namespace, p.value) for p in Phase if p is not Phase.NONE},
                primary_weight=self.weight.labels(f"{target}-primary", namespace),
                canary_weight=self.weight.labels(target, namespace),
            )
            self._children[(namespace, name)] = children
            for gauge in children.phases.values():
                gauge.set(0)
        children.duration.observe(seconds)
        children.status.set(2 if after is Phase.FAILED else 0 if after in _PROGRESSING else 1)
        if children.phase is not after:
            if children.phase is not None and children.phase in children.phases:
                children.phases[children.phase].set(0)
            if after in children.phases:
                children.phases[after].set(1)
            children.phase = after
        children.primary_weight.set(100 - weight)
        children.canary_weight.set(weight)
        if after is not before and after is Phase.SUCCEEDED:
            self.successes.labels(name, namespace, strategy).inc()
        if after is not before and after is Phase.FAILED:
            self.failures.labels(name, namespace, strategy).inc()


@dataclass
class _Children:
    """The labelled metric children of one canary."""

    target: str
    duration: Any
    status: Any
    phases: dict[Phase, Any]
    primary_weight: Any
    canary_weight: Any
    phase: Phase | None = None
