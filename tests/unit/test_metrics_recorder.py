"""The controller's own metrics: one phase at 1 and the others at 0 as a canary moves, weights of
both workloads, finished rollouts counted once."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from canary.adapters.recorder import MetricsRecorder, resource_of
from canary.models.canary import Phase


def test_phase_weights_and_outcomes() -> None:
    registry = CollectorRegistry()
    recorder = MetricsRecorder(registry, "test")

    def tick(before: Phase, after: Phase, weight: int) -> None:
        recorder.record(
            name="web",
            namespace="ns",
            target="web",
            strategy="canary",
            before=before,
            after=after,
            weight=weight,
            seconds=0.01,
        )

    def phase(p: Phase) -> float | None:
        return registry.get_sample_value("canary_phase", {"name": "web", "namespace": "ns", "phase": p.value})

    tick(Phase.NONE, Phase.INITIALIZED, 0)
    tick(Phase.INITIALIZED, Phase.PROGRESSING, 10)
    tick(Phase.PROGRESSING, Phase.PROGRESSING, 20)
    assert phase(Phase.PROGRESSING) == 1
    assert phase(Phase.INITIALIZED) == 0
    assert phase(Phase.SUCCEEDED) == 0
    assert registry.get_sample_value("canary_status", {"name": "web", "namespace": "ns"}) == 0
    assert registry.get_sample_value("canary_weight", {"workload": "web", "namespace": "ns"}) == 20
    assert registry.get_sample_value("canary_weight", {"workload": "web-primary", "namespace": "ns"}) == 80
    tick(Phase.PROGRESSING, Phase.SUCCEEDED, 0)
    tick(Phase.SUCCEEDED, Phase.SUCCEEDED, 0)
    assert phase(Phase.SUCCEEDED) == 1
    assert phase(Phase.PROGRESSING) == 0
    labels = {"name": "web", "namespace": "ns", "strategy": "canary"}
    assert registry.get_sample_value("canary_successes_total", labels) == 1
    assert (
        registry.get_sample_value("canary_tick_duration_seconds_count", {"name": "web", "namespace": "ns"})
        == 5
    )


def test_requests_are_counted_by_method_and_resource_not_by_object() -> None:
    assert resource_of("https://h:6443/apis/canary.dev/v1alpha1/namespaces/ns/canaries/web/status") == (
        "canaries/status"
    )
    assert resource_of("https://h:6443/api/v1/namespaces/ns/events") == "events"
    assert (
        resource_of("https://h:6443/apis/apps/v1/namespaces/ns/deployments/web-primary?x=1") == "deployments"
    )
    assert resource_of("https://h:6443/api/v1/namespaces/ns") == "namespaces"
    assert resource_of("https://h:6443/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x") == (
        "customresourcedefinitions"
    )
