"""The metric part of an analysis check: every ``analysis.metrics[]`` entry, queried and judged.

Who calls this: ``canary.operator.checks`` when the decision core asks for the analysis check.  It
returns one ``CheckOutcome`` with a failure (and its cause) per metric that did not pass, and the
evidence of every metric, which the core keeps in ``status.lastAnalysis``.

For each metric, in the order of the spec:

1. Its query: a builtin (``request-success-rate``, ``request-duration``) for the observer that
   matches the traffic provider, the inline ``query``, or the ``templateRef``'s MetricTemplate, whose
   provider (address, ``secretRef`` credentials, headers, insecureSkipVerify) it also runs on.
   Rendered with Flagger's variables; a template that cannot be rendered, a MetricTemplate or Secret
   that does not exist, is ``InvalidMetric`` (a failed check naming the cause).
2. With ``thresholdRange`` (or the deprecated ``threshold``), or without ``compare``: an instant query
   of the canary's value, checked against the range.  No data is ``NoValues`` (held: no traffic yet),
   a provider that does not answer (down, timed out, 5xx) is ``Unavailable`` (held: blind, not
   failing; Flagger counts it as a failed check, Argo Rollouts as a measurement error), a query that
   cannot run or gives several series is ``QueryFailed``, a value outside the range is ``OutOfRange``.
   A builtin query's window (``{{ interval }}``) never reaches back before the run started
   (``_run_window``): the previous revision's pods match the same pattern, and a new revision checked
   soon after must not be judged on their last samples.  (Flagger uses the metric's interval as it is.)
3. With ``compare``: a range query of each side since the run started (at most ``judge.window``), one
   sample per ``judge.step``, each over its own step-long window (``{{ interval }}`` is the step, so
   samples do not overlap), and then, with every compared metric of the check together, the judge
   (``canary.core.judge``): ``Regression`` fails, ``Inconclusive`` and ``Marginal`` hold.

Unlike Flagger, which stops at the first failing metric, every metric is evaluated, so the evidence
is complete; the decision is the same (any counted failure fails the check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from canary.adapters.kube.client import KubeClient
from canary.adapters.kube.secrets import secret_values
from canary.adapters.metrics.builtin import BUILTIN, SUCCESS_RATE, Observer, counts, query
from canary.adapters.metrics.prometheus import (
    Endpoint,
    MetricsError,
    NoValues,
    PrometheusProvider,
    Providers,
    ProviderUnavailable,
    QueryFailed,
)
from canary.adapters.metrics.templates import TemplateError, TemplateModel, render
from canary.core.judge import Comparison, Counts, Direction, Judgement, MetricResult, Verdict, judge
from canary.core.observations import Cause, CheckFailure, CheckOutcome, evidence
from canary.core.weights import planned_checks
from canary.models.base import parse_duration
from canary.models.canary import (
    CanaryMetric,
    CanarySpec,
    MetricComparison,
    MetricStatus,
    MetricTemplateRef,
    Provider,
)
from canary.models.metric_template import MetricTemplate

#: Which builtin queries a traffic provider's canaries use (Flagger's observers), by router family
#: (``gatewayapi:v1`` is ``gatewayapi``).  smi:* and skipper have none: use a templateRef.
OBSERVERS = {
    "kubernetes": Observer.KUBERNETES,
    "gatewayapi": Observer.KUBERNETES,
    "istio": Observer.ISTIO,
    "nginx": Observer.NGINX,
    "linkerd": Observer.LINKERD,
    "contour": Observer.CONTOUR,
    "traefik": Observer.TRAEFIK,
    "osm": Observer.OSM,
}
_SIDES = ("canary", "primary")


@dataclass(frozen=True)
class AnalysisContext:
    spec: CanarySpec
    namespace: str
    name: str
    provider: Provider
    now: datetime
    #: the analysis interval in effect (spec.analysis.interval, clamped by the controller)
    interval: float
    #: where the run's samples begin (``core.machine.samples_since``: when its canary first got traffic,
    #: else when it started); samples are never taken from before it
    started: datetime | None = None
    #: the canary's phase and the revision under analysis, as webhook payloads carry them
    phase: str = ""
    checksum: str = ""
    #: a Knative Service target's (primary revision, canary revision): ``{{ route }}`` of each side
    revisions: tuple[str, str] | None = None


@dataclass
class _Prepared:
    """A metric ready to query: its rendered queries (canary, primary) and where they run."""

    metric: CanaryMetric
    provider: PrometheusProvider
    queries: dict[str, str] = field(default_factory=dict)
    #: the same, rendered with {{ interval }} = the judge's step (compare only)
    sampled: dict[str, str] = field(default_factory=dict)
    #: builtin success rate, compared: (succeeded, all) request count templates per side
    counted: dict[str, tuple[str, str]] = field(default_factory=dict)


class InvalidMetric(Exception):
    """The metric cannot be built (template, template reference or credentials)."""


class MetricAnalysis:
    def __init__(self, kube: KubeClient, default_server: str, providers: Providers | None = None) -> None:
        self.kube = kube
        self.default_server = default_server
        self.providers = providers or Providers()

    # ------------------------------------------------------------------------------ the check
    def run(self, ctx: AnalysisContext) -> CheckOutcome:
        analysis = ctx.spec.effective_analysis
        metrics = list(analysis.metrics or []) if analysis else []
        failures: list[CheckFailure] = []
        shown: dict[str, MetricStatus] = {}
        compared: dict[str, tuple[list[float], list[float]]] = {}
        counted: dict[str, tuple[Counts, Counts]] = {}
        comparisons: list[Comparison] = []
        for metric in metrics:
            try:
                prepared = self._prepare(ctx, metric)
            except InvalidMetric as e:
                failures.append(CheckFailure(metric.name, str(e), Cause.INVALID_METRIC))
                shown[metric.name] = evidence(metric.name, "failed", str(e))
                continue
            if metric.threshold_range is not None or metric.threshold is not None or metric.compare is None:
                failure, seen = self._check_value(prepared)
                shown[metric.name] = seen
                if failure is not None:
                    failures.append(failure)
                    continue
            if metric.compare is not None:
                try:
                    if prepared.counted:
                        counted[metric.name] = self._counts(ctx, prepared)
                    else:
                        compared[metric.name] = self._samples(ctx, prepared)
                except ProviderUnavailable as e:
                    failure, shown[metric.name] = _unavailable(metric, e)
                    failures.append(failure)
                    continue
                except MetricsError as e:
                    message = f"query failed on {prepared.provider.where}: {e}"
                    failures.append(CheckFailure(metric.name, message, Cause.QUERY_FAILED))
                    shown[metric.name] = evidence(metric.name, "failed", message)
                    continue
                comparisons.append(comparison(metric.name, metric.compare))
        score = None
        if comparisons:
            judgement = judge_samples(ctx.spec, compared, comparisons, counted, ctx.interval)
            score = judgement.score
            failures.extend(judged_failures(judgement))
            for result in judgement.metrics:
                shown[result.name] = _merge(shown.get(result.name), result, judgement.verdict)
        ordered = [shown[m.name] for m in metrics if m.name in shown]
        return CheckOutcome.combine(failures, ordered, score)

    # ------------------------------------------------------------------------------ building
    def _prepare(self, ctx: AnalysisContext, metric: CanaryMetric) -> _Prepared:
        spec = ctx.spec
        observed: Observer | None = None  # set for builtin metrics
        if metric.template_ref is not None:
            template, endpoint = self._template(ctx, metric.template_ref)
            text: str | dict[str, str] = template
        elif metric.query:
            endpoint, text = Endpoint(spec.metrics_server or self.default_server), metric.query
        elif metric.name in BUILTIN:
            observer = OBSERVERS.get(ctx.provider.family)
            if observer is None:
                raise InvalidMetric(
                    f"no builtin {metric.name} for provider {ctx.provider.value}; use a templateRef"
                )
            endpoint = Endpoint(spec.metrics_server or self.default_server)
            text = {side: query(observer, metric.name, side) for side in _SIDES}
            observed = observer
        else:  # refused by the CRD's validation; kept for objects written before it
            raise InvalidMetric(f"{metric.name} is not builtin and has neither query nor templateRef")
        prepared = _Prepared(metric, self.providers.get(endpoint))
        if observed is not None and metric.name == SUCCESS_RATE and metric.compare is not None:
            prepared.counted = {side: counts(observed, side) for side in _SIDES}
        step = ctx.spec.judge.step_seconds(ctx.interval)
        window = _run_window(ctx, metric) if observed is not None else metric.interval_or_default
        for side in _SIDES:
            source = text[side] if isinstance(text, dict) else text
            try:
                prepared.queries[side] = render(source, _model(ctx, metric, side, window))
                if metric.compare is not None:
                    prepared.sampled[side] = render(source, _model(ctx, metric, side, f"{step:g}s"))
            except TemplateError as e:
                raise InvalidMetric(f"template error: {e}") from None
        if metric.compare is not None and prepared.sampled["canary"] == prepared.sampled["primary"]:
            raise InvalidMetric(
                "compare needs a query that tells the sides apart: use {{ target }} (it is "
                f"{spec.target_ref.name} for the canary and {spec.target_ref.name}-primary for the primary)"
            )
        return prepared

    def _template(self, ctx: AnalysisContext, ref: MetricTemplateRef) -> tuple[str, Endpoint]:
        namespace = ref.namespace or ctx.namespace
        body = self.kube.get_custom("canary.dev", "v1alpha1", "metrictemplates", namespace, ref.name)
        if body is None:
            raise InvalidMetric(f"MetricTemplate {namespace}/{ref.name} not found (templateRef)")
        try:
            template = MetricTemplate.model_validate(body)
        except ValueError as e:
            raise InvalidMetric(f"MetricTemplate {namespace}/{ref.name} is not valid: {e}") from None
        provider = template.spec.provider
        address = provider.address or ctx.spec.metrics_server or self.default_server
        token = username = password = None
        if provider.secret_ref is not None:
            secret = self.kube.get_config("secret", namespace, provider.secret_ref.name)
            if secret is None:
                raise InvalidMetric(
                    f"Secret {namespace}/{provider.secret_ref.name} of MetricTemplate {ref.name} not found"
                )
            data = secret_values(secret, ("token", "username", "password"))
            token, username, password = data.get("token"), data.get("username"), data.get("password")
            if not token and not username:
                raise InvalidMetric(
                    f"Secret {namespace}/{provider.secret_ref.name} has neither a token nor a username key"
                )
        headers = tuple(sorted((k, ", ".join(v)) for k, v in (provider.headers or {}).items()))
        endpoint = Endpoint(
            address,
            token=token,
            username=username,
            password=password,
            headers=headers,
            insecure_skip_verify=bool(provider.insecure_skip_verify),
        )
        return template.spec.query, endpoint

    # ------------------------------------------------------------------------------ querying
    def _check_value(self, prepared: _Prepared) -> tuple[CheckFailure | None, MetricStatus]:
        metric = prepared.metric
        try:
            value = prepared.provider.instant(prepared.queries["canary"])
        except NoValues as e:
            message = f"no values ({e}): is the canary receiving traffic?"
            return CheckFailure(metric.name, message, Cause.NO_VALUES), evidence(metric.name, "held", message)
        except ProviderUnavailable as e:
            return _unavailable(metric, e)
        except QueryFailed as e:
            message = f"query failed on {prepared.provider.where}: {e}"
            return CheckFailure(metric.name, message, Cause.QUERY_FAILED), evidence(
                metric.name, "failed", message
            )
        return range_check(metric, value)

    def _counts(self, ctx: AnalysisContext, prepared: _Prepared) -> tuple[Counts, Counts]:
        """Succeeded and all requests of each side since the run started (at most the window)."""
        seconds = max(int((ctx.now - _start(ctx)).total_seconds()), 1)
        sides = []
        for side in _SIDES:
            good, total = (
                self._count(prepared, render(q, _model(ctx, prepared.metric, side, f"{seconds}s")))
                for q in prepared.counted[side]
            )
            sides.append(Counts(failed=max(total - good, 0.0), total=total))
        return sides[0], sides[1]

    @staticmethod
    def _count(prepared: _Prepared, query_text: str) -> float:
        try:
            return prepared.provider.instant(query_text)
        except NoValues:
            return 0.0  # no requests: the judge holds (too few)

    def _samples(self, ctx: AnalysisContext, prepared: _Prepared) -> tuple[list[float], list[float]]:
        step = ctx.spec.judge.step_seconds(ctx.interval)
        start = _start(ctx)
        # The first sample covers [start, start + step]: nothing from before the run.
        first = start + timedelta(seconds=step)
        if first >= ctx.now:
            return [], []
        c, p = (prepared.provider.range(prepared.sampled[side], first, ctx.now, step) for side in _SIDES)
        return c, p


# ---------------------------------------------------------------------------------------------- helpers
def _unavailable(metric: CanaryMetric, e: ProviderUnavailable) -> tuple[CheckFailure, MetricStatus]:
    """The provider did not answer: the check is blind, not failing (held, up to maxHeldChecks)."""
    message = f"metrics provider unavailable ({e}): holding until it answers"
    return CheckFailure(metric.name, message, Cause.UNAVAILABLE), evidence(metric.name, "held", message)


def _start(ctx: AnalysisContext) -> datetime:
    """Where the judge's window begins: the run's start, or ``judge.window`` ago if that is later."""
    start = ctx.now - timedelta(seconds=ctx.spec.judge.window_seconds)
    if ctx.started is not None and ctx.started > start:
        start = ctx.started
    return start


def judge_samples(
    spec: CanarySpec,
    samples: dict[str, tuple[list[float], list[float]]],
    comparisons: list[Comparison],
    counted: dict[str, tuple[Counts, Counts]] | None,
    interval: float,
) -> Judgement:
    """The judge with the Canary's settings (pure; the decision-quality benchmark uses it)."""
    settings = spec.judge
    return judge(
        samples,
        comparisons,
        counts=counted,
        confidence=settings.confidence_or_default,
        pass_score=settings.pass_score_or_default,
        marginal_score=settings.marginal_score_or_default,
        looks=planned_looks(spec, comparisons, set(counted or ()), interval),
    )


def planned_looks(spec: CanarySpec, comparisons: list[Comparison], counted: set[str], interval: float) -> int:
    """How many times a run's judge looks at its accumulating data when all goes well: the checks
    that wait for ``minSamples`` samples (one per ``judge.step``; counted success rates need no
    wait), then one per weight step (or iteration) until promotion."""
    per_check = max(interval / spec.judge.step_seconds(interval), 1.0)
    waiting = [
        math.ceil(c.min_samples / per_check) - 1
        for c in comparisons
        if c.name not in counted and c.min_samples
    ]
    return planned_checks(spec) + max([0, *waiting])


def _run_window(ctx: AnalysisContext, metric: CanaryMetric) -> str:
    """A builtin query's window: the metric's interval, but never reaching back before the run started.

    The canary's pods of the previous revision match the same pod-name pattern, and a rate over a
    range keeps counting their last samples after they are gone; a new revision checked right after
    the previous run (an interval shorter than the metric's window) would be judged on them.  Too
    short a window to hold two scrapes gives no values: the check holds."""
    configured = parse_duration(metric.interval_or_default)
    if ctx.started is None:
        return metric.interval_or_default
    since = int((ctx.now - ctx.started).total_seconds())
    return metric.interval_or_default if since >= configured else f"{max(since, 1)}s"


def _model(ctx: AnalysisContext, metric: CanaryMetric, side: str, interval: str) -> TemplateModel:
    spec = ctx.spec
    target = spec.target_ref.name
    route = spec.route_ref.name if spec.route_ref else target
    if ctx.revisions is not None:  # a Knative Service: each side is a revision (Flagger's {{ route }})
        route = ctx.revisions[1] if side == "canary" else ctx.revisions[0]
    return TemplateModel(
        name=ctx.name,
        namespace=ctx.namespace,
        target=target if side == "canary" or ctx.revisions is not None else f"{target}-primary",
        service=spec.apex_service,
        ingress=spec.ingress_ref.name if spec.ingress_ref else target,
        route=route,
        interval=interval,
        variables=dict(metric.template_variables or {}),
    )


def range_check(metric: CanaryMetric, value: float) -> tuple[CheckFailure | None, MetricStatus]:
    """The canary's value against the metric's range (pure; the decision-quality benchmark uses it)."""
    low, high = _range(metric)
    shown = f"{value:.4g}"
    if low is not None and value < low:
        message = f"{shown} is below the minimum {low:g}"
    elif high is not None and value > high:
        message = f"{shown} is above the maximum {high:g}"
    else:
        bounds = f"[{'-' if low is None else f'{low:g}'}, {'-' if high is None else f'{high:g}'}]"
        return None, evidence(metric.name, "passed", f"{shown} within {bounds}", value=value)
    return CheckFailure(metric.name, message, Cause.OUT_OF_RANGE), evidence(
        metric.name, "failed", message, value=value
    )


def _range(metric: CanaryMetric) -> tuple[float | None, float | None]:
    """Flagger's semantics: thresholdRange, else threshold as a minimum success rate or a maximum."""
    if metric.threshold_range is not None:
        return metric.threshold_range.min, metric.threshold_range.max
    if metric.threshold is not None:
        if metric.name == SUCCESS_RATE:
            return metric.threshold, None
        return None, metric.threshold
    return None, None


def comparison(name: str, c: MetricComparison) -> Comparison:
    return Comparison(
        name=name,
        # A success rate regresses when it falls; everything else by default when it rises.
        direction=Direction(c.direction or ("decrease" if name == SUCCESS_RATE else "increase")),
        tolerance=c.tolerance_or_default,
        absolute_tolerance=c.absolute_tolerance or 0.0,
        critical=bool(c.critical),
        min_samples=c.min_samples_or_default,
        ceiling=100.0 if name == SUCCESS_RATE else None,
    )


def judged_failures(judgement: Judgement) -> list[CheckFailure]:
    if judgement.verdict is Verdict.PASS:
        return []
    if judgement.verdict is Verdict.FAIL:
        failed = [m for m in judgement.metrics if m.verdict is Verdict.FAIL]
        return [CheckFailure(m.name, m.describe(), Cause.REGRESSION) for m in failed] or [
            CheckFailure("judge", judgement.describe(), Cause.REGRESSION)
        ]
    if judgement.verdict is Verdict.MARGINAL:
        score = f"{judgement.score:.0f}" if judgement.score is not None else "n/a"
        worse = "; ".join(m.describe() for m in judgement.metrics if m.verdict is Verdict.FAIL)
        return [CheckFailure("judge", f"marginal score {score}: {worse}", Cause.MARGINAL)]
    return [
        CheckFailure(m.name, m.describe(), Cause.INCONCLUSIVE)
        for m in judgement.metrics
        if m.verdict is Verdict.INCONCLUSIVE
    ]


def _merge(seen: MetricStatus | None, result: MetricResult, overall: Verdict) -> MetricStatus:
    """The instant value (if any) and the judge's evidence, in one entry."""
    if seen is not None and seen.result == "failed":
        return seen
    outcome: Literal["passed", "failed", "held"] = "held"
    if result.verdict is Verdict.PASS and (seen is None or seen.result == "passed"):
        outcome = "passed"
    elif result.verdict is Verdict.FAIL and overall is Verdict.FAIL:
        outcome = "failed"
    message = result.describe() if seen is None else f"{seen.message}; judge: {result.describe()}"
    return evidence(
        result.name,
        outcome,
        message,
        value=seen.value if seen is not None else None,
        canary_median=result.canary_median,
        primary_median=result.primary_median,
        shift=result.shift,
        p_value=result.adjusted_p_value,
        canary_samples=result.canary_samples,
        primary_samples=result.primary_samples,
    )
