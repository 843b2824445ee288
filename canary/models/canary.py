"""The ``Canary`` resource (``canary.dev/v1alpha1``): spec, status, and the accessors that apply
defaults and clamps.

Who uses this: the operator parses every Canary body into ``Canary``; the decision core reads the
accessors (``analysis_interval_seconds``, ``threshold``, ``strategy`` ...) rather than raw fields, so
defaults and clamps live here and nowhere else.  ``canary.models.crd`` generates ``crds/canary.yaml``
from these classes, and a test keeps the two equal.

Compatibility: the spec is a field-for-field superset of Flagger's ``flagger.app/v1beta1`` Canary (same
names, types, defaults and clamps), so a Flagger manifest works after changing its apiVersion.  Where
Flagger silently falls back (an unknown provider routed as Istio, an unparsable interval read as 60s),
this schema refuses the value with a message naming the field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import ConfigDict, Field, model_validator

from canary.models.base import FREE_FORM, INT_OR_STRING, Duration, KubeModel, cel, parse_duration
from canary.models.gitops import GITOPS_VALIDATIONS, GitOpsSpec, GitOpsStatus
from canary.models.requests import RequestStatus

GROUP = "canary.dev"
VERSION = "v1alpha1"
API_VERSION: Final = "canary.dev/v1alpha1"

DEFAULT_INTERVAL_SECONDS = 60.0
MIN_INTERVAL_SECONDS = 10.0
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_READY_THRESHOLD = 100
DEFAULT_METRIC_INTERVAL = "1m"
DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 10.0
DEFAULT_COMPARE_TOLERANCE = 0.1
DEFAULT_MIN_SAMPLES = 10
DEFAULT_CONFIDENCE = 0.98
DEFAULT_PASS_SCORE = 95.0
DEFAULT_MARGINAL_SCORE = 75.0
DEFAULT_JUDGE_WINDOW = "30m"
DEFAULT_MAX_HELD_CHECKS = 10

Name = Annotated[str, Field(min_length=1, max_length=253)]
Percent = Annotated[int, Field(ge=0, le=100)]


class Provider(StrEnum):
    """Flagger's traffic provider values, every one of them.  Unknown names are refused, never replaced.

    A value is accepted here so that a Flagger manifest applies (a schema refusal would fail the
    whole GitOps apply); the providers canary has no router for are refused on the Canary itself,
    with the reason (``canary.adapters.routers.registry.UNSUPPORTED``)."""

    KUBERNETES = "kubernetes"
    GATEWAYAPI = "gatewayapi"
    GATEWAYAPI_V1 = "gatewayapi:v1"
    GATEWAYAPI_V1BETA1 = "gatewayapi:v1beta1"
    ISTIO = "istio"
    NGINX = "nginx"
    LINKERD = "linkerd"
    CONTOUR = "contour"
    TRAEFIK = "traefik"
    SKIPPER = "skipper"
    SMI_V1ALPHA1 = "smi:v1alpha1"
    SMI_V1ALPHA2 = "smi:v1alpha2"
    SMI_V1ALPHA3 = "smi:v1alpha3"
    OSM = "osm"
    KNATIVE = "knative"
    GLOO = "gloo"
    KUMA = "kuma"
    APISIX = "apisix"
    APPMESH = "appmesh"
    APPMESH_V1BETA2 = "appmesh:v1beta2"

    @property
    def family(self) -> str:
        """The router that serves this name (``gatewayapi:v1`` and ``gatewayapi`` are one router;
        ``smi:v1alpha2`` and ``smi:v1alpha3`` are two)."""
        return self.value if self.value.startswith("smi:") else self.value.split(":", 1)[0]


class Strategy(StrEnum):
    CANARY = "canary"
    AB_TESTING = "ab-testing"
    BLUE_GREEN = "blue-green"


class Phase(StrEnum):
    """The phases of a Canary, as in Flagger (``Terminated`` is declared but, like Flagger, unused)."""

    NONE = ""
    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    WAITING = "Waiting"
    PROGRESSING = "Progressing"
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    FINALISING = "Finalising"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


# ----------------------------------------------------------------------------------------- references
#: the port of the ``service`` a Knative Service target stands in with (nothing listens on it: no
#: Service is generated for a Knative target)
KNATIVE_PORT = 80


def knative_mismatch(provider: str, knative_target: bool) -> str:
    """Why ``provider`` and the target do not go together (the knative provider needs a Knative
    Service, and a Knative Service the knative provider)."""
    if knative_target:
        return (
            f"spec.provider: a Knative Service target is routed by Knative (provider knative), not by "
            f"{provider}; set spec.provider: knative"
        )
    return (
        "spec.provider: the knative provider routes a Knative Service's revisions: it needs "
        "spec.targetRef kind Service, apiVersion serving.knative.dev/v1 (this target is a Deployment)"
    )


#: the apiVersion of a Knative Service, the one ``Service`` target supported
KNATIVE_SERVING = "serving.knative.dev/v1"


class TargetRef(KubeModel):
    """The workload to canary."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    f"self.kind != 'Service' || self.apiVersion == '{KNATIVE_SERVING}'",
                    f"a Service target must be a Knative Service (apiVersion {KNATIVE_SERVING}); "
                    "canary does not support plain Service targets",
                    ".apiVersion",
                )
            ]
        }
    )

    api_version: str
    """API version of the target, for example apps/v1 (serving.knative.dev/v1 for a Knative Service)."""
    kind: Literal["Deployment", "Service"]
    """Kind of the target: Deployment, or Service for a Knative Service (with the knative provider).
    Flagger's DaemonSet and plain Service targets are not supported."""
    name: Name
    """Name of the target, in the Canary's namespace."""

    @property
    def knative(self) -> bool:
        """The target is a Knative Service (its revisions are the primary and the canary)."""
        return self.kind == "Service"


class PrimaryScalerReplicas(KubeModel):
    min_replicas: Annotated[int, Field(ge=1)] | None = None
    """Overrides minReplicas of the primary autoscaler."""
    max_replicas: Annotated[int, Field(ge=1)] | None = None
    """Overrides maxReplicas of the primary autoscaler."""


class AutoscalerRef(KubeModel):
    """The autoscaler of the target; it is cloned as <name>-primary for the primary."""

    api_version: str
    """API version of the autoscaler, for example autoscaling/v2."""
    kind: Literal["HorizontalPodAutoscaler", "ScaledObject"]
    """Kind of the autoscaler."""
    name: Name
    """Name of the autoscaler."""
    primary_scaler_queries: dict[str, str] | None = None
    """KEDA trigger queries for the primary scaler, by trigger name."""
    primary_scaler_replicas: PrimaryScalerReplicas | None = None
    """Replica bounds of the primary autoscaler, when they differ from the target's."""


class IngressRef(KubeModel):
    """The Ingress cloned as <name>-canary by the nginx provider."""

    api_version: str
    """API version of the ingress, for example networking.k8s.io/v1."""
    kind: Literal["Ingress"]
    """Kind of the referenced object."""
    name: Name
    """Name of the Ingress."""


class LocalObjectRef(KubeModel):
    """A reference kept for Flagger compatibility (APISIX route, Gloo upstream); no router here uses it."""

    api_version: str
    """API version of the object."""
    kind: str
    """Kind of the object."""
    name: Name
    """Name of the object."""
    namespace: str | None = None
    """Namespace of the object."""


# ----------------------------------------------------------------------------------------- matching
class StringMatch(KubeModel):
    """One way of matching a string: exactly, by prefix, by suffix or by an RE2 regex (set one)."""

    # maxProperties rather than a CEL rule: CEL inside these unbounded lists and maps exceeds the API
    # server's cost budget, while maxProperties costs nothing.
    model_config = ConfigDict(json_schema_extra={"maxProperties": 1})

    exact: str | None = None
    """Matches this exact value."""
    prefix: str | None = None
    """Matches values that start with this prefix."""
    suffix: str | None = None
    """Matches values that end with this suffix."""
    regex: str | None = None
    """Matches values against this RE2 regular expression."""


class HTTPMatchRequest(KubeModel):
    """Conditions on an HTTP request (Istio's HTTPMatchRequest, as Flagger uses it)."""

    name: str | None = None
    """The name assigned to this match."""
    uri: StringMatch | None = None
    """Matches the request path."""
    scheme: StringMatch | None = None
    """Matches the URI scheme."""
    method: StringMatch | None = None
    """Matches the HTTP method."""
    authority: StringMatch | None = None
    """Matches the HTTP authority (host)."""
    headers: dict[str, StringMatch] | None = None
    """Matches request headers, by header name (lower case)."""
    port: int | None = None
    """Matches the port the request was addressed to."""
    source_labels: dict[str, str] | None = None
    """Matches the labels of the calling workload (service mesh only)."""
    gateways: list[str] | None = None
    """Gateways where this match applies."""
    query_params: dict[str, StringMatch] | None = None
    """Matches query parameters, by name."""
    ignore_uri_case: bool | None = None
    """Match the URI case-insensitively."""
    without_headers: dict[str, StringMatch] | None = None
    """Requests must not carry headers matching these."""
    source_namespace: str | None = None
    """Matches the namespace of the calling workload (service mesh only)."""


# ----------------------------------------------------------------------------------------- service
class ParentReference(KubeModel):
    """A Gateway API parent (usually a Gateway) of the generated HTTPRoute."""

    group: str | None = None
    """Group of the parent; default gateway.networking.k8s.io."""
    kind: str | None = None
    """Kind of the parent; default Gateway."""
    namespace: str | None = None
    """Namespace of the parent; default the Canary's namespace."""
    name: Name
    """Name of the parent."""
    section_name: str | None = None
    """A listener of the parent."""
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    """A port of the parent."""


class CustomMetadata(KubeModel):
    labels: dict[str, str] | None = None
    """Labels to add."""
    annotations: dict[str, str] | None = None
    """Annotations to add."""


class UnmanagedMetadata(KubeModel):
    labels: list[str] | None = None
    """Label keys the controller must leave alone on objects it owns."""
    annotations: list[str] | None = None
    """Annotation keys the controller must leave alone on objects it owns."""


class HTTPRewrite(KubeModel):
    uri: str | None = None
    """Rewrite the path (or its matched prefix) to this."""
    authority: str | None = None
    """Rewrite the Host/Authority header to this."""
    type: Literal["ReplaceFullPath", "ReplacePrefixMatch"] | None = None
    """Gateway API path modifier; default ReplaceFullPath."""


class HTTPRetry(KubeModel):
    attempts: Annotated[int, Field(ge=0)] | None = None
    """Number of retries."""
    per_try_timeout: str | None = None
    """Timeout per attempt, for example 2s."""
    retry_on: str | None = None
    """Conditions to retry on (Envoy's retry-on policies)."""


class HeaderOperations(KubeModel):
    set: dict[str, str] | None = None
    """Headers to set (overwrite)."""
    add: dict[str, str] | None = None
    """Headers to append."""
    remove: list[str] | None = None
    """Headers to remove."""


class Headers(KubeModel):
    request: HeaderOperations | None = None
    """Changes to request headers."""
    response: HeaderOperations | None = None
    """Changes to response headers."""


class CanaryService(KubeModel):
    """How the Services <name>, <name>-primary and <name>-canary and the routing objects are generated."""

    name: str | None = None
    """Name of the apex Service; default the target's name."""
    port: Annotated[int, Field(ge=1, le=65535)]
    """Port of the generated Services."""
    port_name: str | None = None
    """Name of the Service port; default http."""
    target_port: Annotated[int | str, Field(json_schema_extra=INT_OR_STRING)] | None = None
    """Container port (number or name) the Services send to; default the port."""
    app_protocol: str | None = None
    """appProtocol of the Service port."""
    traffic_distribution: Literal["PreferClose", "PreferSameZone", "PreferSameNode"] | None = None
    """trafficDistribution of the generated Services."""
    port_discovery: bool | None = None
    """Add every other container port of the target to the generated Services."""
    headless: bool | None = None
    """Generate headless Services (clusterIP: None)."""
    timeout: str | None = None
    """Request timeout on the generated route."""
    backend_timeout: str | None = None
    """Per-backend request timeout (Gateway API)."""
    gateways: list[str] | None = None
    """Istio gateways of the VirtualService; default mesh."""
    gateway_refs: Annotated[list[ParentReference], Field(max_length=32)] | None = None
    """Parents of the generated HTTPRoute; required by the Gateway API provider."""
    hosts: list[str] | None = None
    """Host names of the generated VirtualService or HTTPRoute."""
    delegation: bool | None = None
    """Generate an Istio delegate VirtualService (no hosts, no gateways)."""
    match: list[HTTPMatchRequest] | None = None
    """Request matches of the generated route (not A/B testing: see analysis.match)."""
    rewrite: HTTPRewrite | None = None
    """URI and authority rewrite of the generated route."""
    retries: HTTPRetry | None = None
    """Retry policy of the generated route."""
    headers: Headers | None = None
    """Header changes on the generated route."""
    mirror: Annotated[list[dict[str, Any]], Field(json_schema_extra={"items": FREE_FORM})] | None = None
    """Extra Gateway API request mirror filters, as written."""
    cors_policy: Annotated[dict[str, Any], Field(json_schema_extra=FREE_FORM)] | None = None
    """Istio CORS policy, as written."""
    traffic_policy: Annotated[dict[str, Any], Field(json_schema_extra=FREE_FORM)] | None = None
    """Istio traffic policy copied to both DestinationRules, as written."""
    mesh_name: str | None = None
    """App Mesh mesh name (kept for Flagger compatibility)."""
    backends: list[str] | None = None
    """App Mesh backends (kept for Flagger compatibility)."""
    apex: CustomMetadata | None = None
    """Metadata added to the apex Service and the routing object."""
    primary: CustomMetadata | None = None
    """Metadata added to the primary Service."""
    canary: CustomMetadata | None = None
    """Metadata added to the canary Service."""
    unmanaged_metadata: UnmanagedMetadata | None = None
    """Metadata keys other controllers own on the generated objects."""

    def apex_name(self, target: str) -> str:
        return self.name or target


# ----------------------------------------------------------------------------------------- analysis
class ThresholdRange(KubeModel):
    min: float | None = None
    """Lowest value that passes."""
    max: float | None = None
    """Highest value that passes."""


class MetricTemplateRef(KubeModel):
    name: Name
    """Name of the MetricTemplate."""
    namespace: str | None = None
    """Namespace of the MetricTemplate; default the Canary's namespace."""


class MetricComparison(KubeModel):
    """Compare the canary with the primary on this metric, with the statistical judge (opt-in)."""

    direction: Literal["increase", "decrease", "either"] | None = None
    """Which change is a regression: increase (latency, errors), decrease (throughput, success rate),
    either; default decrease for request-success-rate, increase otherwise."""
    tolerance: Annotated[float, Field(ge=0)] | None = None
    """Tolerated shift as a fraction of the primary's median (0.1 is 10%); default 0.1."""
    absolute_tolerance: Annotated[float, Field(ge=0)] | None = None
    """Tolerated shift in the metric's own unit, for metrics whose primary median is about 0; default 0."""
    critical: bool | None = None
    """A regression of this metric fails the run whatever the score."""
    min_samples: Annotated[int, Field(ge=3, le=10000)] | None = None
    """Fewer samples on either side hold the weight instead of judging (for the builtin
    request-success-rate, compared by its request counts: fewer requests); default 10."""

    @property
    def tolerance_or_default(self) -> float:
        return DEFAULT_COMPARE_TOLERANCE if self.tolerance is None else self.tolerance

    @property
    def min_samples_or_default(self) -> int:
        return self.min_samples or DEFAULT_MIN_SAMPLES


class JudgeSettings(KubeModel):
    """How compared metrics are sampled and combined into one verdict."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "(has(self.marginalScore) ? self.marginalScore : 75.0)"
                    " <= (has(self.passScore) ? self.passScore : 95.0)",
                    "marginalScore must not exceed passScore",
                    ".marginalScore",
                )
            ]
        }
    )

    confidence: Annotated[float, Field(ge=0.5, lt=1)] | None = None
    """1 - confidence bounds the chance that a healthy canary fails any check of a run (the level of each
    check is set for the number of checks the run plans, and Holm's correction spreads it across the compared
    metrics); default 0.98."""
    pass_score: Annotated[float, Field(ge=0, le=100)] | None = None
    """Share of compared metrics (percent) that must pass; default 95."""
    marginal_score: Annotated[float, Field(ge=0, le=100)] | None = None
    """At or above this score and below passScore the weight is held; below it the check fails; default 75."""
    step: Duration | None = None
    """Sample resolution: one sample per step, each over its own step-long window ({{ interval }}); at least
    two scrape intervals; default a quarter of the analysis interval."""
    window: Duration | None = None
    """Longest lookback for samples (never before the current run started); default 30m."""

    # ---- accessors: defaults in one place ------------------------------------------------------
    @property
    def confidence_or_default(self) -> float:
        return DEFAULT_CONFIDENCE if self.confidence is None else self.confidence

    @property
    def pass_score_or_default(self) -> float:
        return DEFAULT_PASS_SCORE if self.pass_score is None else self.pass_score

    @property
    def marginal_score_or_default(self) -> float:
        return DEFAULT_MARGINAL_SCORE if self.marginal_score is None else self.marginal_score

    @property
    def window_seconds(self) -> float:
        return parse_duration(self.window or DEFAULT_JUDGE_WINDOW)

    def step_seconds(self, interval: float) -> float:
        """The sample step; default a quarter of the analysis ``interval`` in effect, at least 1s."""
        return parse_duration(self.step) if self.step else max(interval / 4, 1.0)


class CanaryMetric(KubeModel):
    """A check run at every analysis tick."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.name in ['request-success-rate', 'request-duration']"
                    " || has(self.query) || has(self.templateRef)",
                    "metrics other than request-success-rate and request-duration need query or templateRef",
                    ".name",
                )
            ]
        }
    )

    name: Name
    """Name of the metric; request-success-rate and request-duration are builtin."""
    interval: Duration | None = None
    """Query window; default 1m."""
    threshold: float | None = None
    """Deprecated: the highest value that passes (the lowest for request-success-rate)."""
    threshold_range: ThresholdRange | None = None
    """The range of values that pass."""
    query: str | None = None
    """Deprecated: an inline PromQL query against the controller's Prometheus."""
    template_ref: MetricTemplateRef | None = None
    """The MetricTemplate that holds the query."""
    template_variables: dict[str, str] | None = None
    """Variables for the template, available as {{ variables.NAME }}."""
    compare: MetricComparison | None = None
    """Also judge the canary against the primary on this metric (the query runs for both sides)."""

    @property
    def interval_or_default(self) -> str:
        return self.interval or DEFAULT_METRIC_INTERVAL


class ProviderRef(KubeModel):
    name: Name
    """Name of the AlertProvider."""
    namespace: str | None = None
    """Namespace of the AlertProvider; default the Canary's namespace."""


class CanaryAlert(KubeModel):
    name: Name
    """Name of this alert."""
    severity: Literal["", "info", "warn", "error"] | None = None
    """Lowest severity sent: info (default; also when empty), warn or error."""
    provider_ref: ProviderRef
    """The AlertProvider that sends it."""


class HookType(StrEnum):
    ROLLOUT = "rollout"
    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    CONFIRM_PROMOTION = "confirm-promotion"
    POST_ROLLOUT = "post-rollout"
    EVENT = "event"
    ROLLBACK = "rollback"
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"


class WebhookSecretRef(KubeModel):
    name: Name
    """Name of a Secret in the Canary's namespace."""
    key: Annotated[str, Field(min_length=1, max_length=253)] = "token"
    """The key holding the token; default token."""


class CanaryWebhook(KubeModel):
    name: Name
    """Name of the webhook."""
    type: Literal[
        "",
        "rollout",
        "confirm-rollout",
        "pre-rollout",
        "confirm-promotion",
        "post-rollout",
        "event",
        "rollback",
        "confirm-traffic-increase",
    ] = ""
    """When the webhook is called; empty means rollout."""
    url: Annotated[str, Field(pattern=r"^https?://", max_length=2048)]
    """URL the payload is POSTed to (http or https)."""
    timeout: Duration | None = None
    """Request timeout; default 10s."""
    retries: Annotated[int, Field(ge=0, le=100)] | None = None
    """Retries after a failed request; default 0."""
    disable_tls: Annotated[bool | None, Field(alias="disableTLS")] = None
    """Skip TLS certificate verification."""
    metadata: dict[str, str] | None = None
    """Key-value pairs sent in the payload's metadata."""
    mute_alert: bool | None = None
    """Send no notification while this gate holds the canary."""
    token_secret_ref: WebhookSecretRef | None = None
    """A Secret in the Canary's namespace whose key token is sent as a bearer token (our addition: the load
    tester maps tokens to the namespaces they may act on)."""

    @property
    def hook_type(self) -> HookType:
        return HookType(self.type or "rollout")

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout) if self.timeout else DEFAULT_WEBHOOK_TIMEOUT_SECONDS


class SessionAffinity(KubeModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.primaryCookieName) || self.primaryCookieName != self.cookieName",
                    "primaryCookieName must differ from cookieName",
                    ".primaryCookieName",
                )
            ]
        }
    )

    cookie_name: Name
    """Cookie that pins a client to the canary."""
    primary_cookie_name: str | None = None
    """Cookie that pins a client to the primary."""
    domain: str | None = None
    """Domain attribute of the cookie."""
    http_only: bool | None = None
    """HttpOnly attribute of the cookie."""
    max_age: Annotated[int, Field(ge=0)] = 86400
    """Lifetime of the cookie in seconds."""
    partitioned: bool | None = None
    """Partitioned attribute of the cookie."""
    path: str | None = None
    """Path attribute of the cookie."""
    same_site: Literal["Strict", "Lax", "None"] | None = None
    """SameSite attribute of the cookie."""
    secure: bool | None = None
    """Secure attribute of the cookie."""


class CanaryAnalysis(KubeModel):
    """How a new revision is analysed and how traffic moves to it."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.stepWeights) || self.stepWeights.isSorted()",
                    "stepWeights must be in ascending order",
                    ".stepWeights",
                ),
                # Flagger's schema demands one of these (oneOf); without any, weights could never move.
                cel(
                    "(has(self.iterations) && self.iterations > 0)"
                    " || (has(self.stepWeight) && self.stepWeight > 0)"
                    " || (has(self.stepWeights) && self.stepWeights.size() > 0)",
                    "set iterations (A/B testing, blue/green), stepWeight or stepWeights"
                    " (progressive canary)",
                ),
            ]
        }
    )

    interval: Duration | None = None
    """Time between two checks; default 60s, at least 10s (shorter values are raised to 10s)."""
    iterations: Annotated[int, Field(ge=0)] | None = None
    """Number of checks for A/B testing and blue/green."""
    threshold: int | None = None
    """Failed checks after which the canary is rolled back; default 1."""
    max_weight: Percent | None = None
    """Highest canary weight before promotion; default 100; a cap that steps never exceed."""
    step_weight: Percent | None = None
    """Weight added at each step (progressive canary)."""
    step_weights: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(max_length=100)] | None = None
    """Explicit weight ladder, ascending (used when stepWeight is not set)."""
    step_weight_promotion: Percent | None = None
    """Weight moved back to the primary at each promotion step; default all at once."""
    primary_ready_threshold: Percent | None = None
    """Share of primary replicas that must be available; default 100."""
    canary_ready_threshold: Percent | None = None
    """Share of canary replicas that must be available; default 100."""
    mirror: bool | None = None
    """Mirror traffic to the canary before shifting it (blue/green with mirroring)."""
    mirror_weight: Percent | None = None
    """Share of traffic mirrored; default all."""
    match: list[HTTPMatchRequest] | None = None
    """A/B testing: requests matching any of these go to the canary."""
    session_affinity: SessionAffinity | None = None
    """Pin clients that reached the canary to it with a cookie."""
    alerts: list[CanaryAlert] | None = None
    """Notifications for this canary."""
    metrics: list[CanaryMetric] | None = None
    """Checks run at each tick."""
    webhooks: list[CanaryWebhook] | None = None
    """Webhooks called during the rollout."""
    judge: JudgeSettings | None = None
    """Settings of the canary-versus-primary judge (metrics with compare)."""
    max_held_checks: Annotated[int, Field(ge=1)] | None = None
    """Checks that cannot decide (no values yet, an inconclusive or marginal judgement) hold the weight;
    after this many in one run the canary is rolled back (fails safe); default 10."""


#: the rules that pair a Knative Service target with the knative provider (CEL in the CRD; the model
#: checks the same in ``CanarySpec._knative_pairing``, and the tick checks the controller's default
#: provider, which the schema cannot see)
KNATIVE_VALIDATIONS = [
    cel(
        "has(self.service) || self.targetRef.kind == 'Service'",
        "spec.service is required (only a Knative Service target needs none)",
        ".service",
    ),
    cel(
        "self.targetRef.kind != 'Service' || !has(self.autoscalerRef)",
        "a Knative Service scales its own revisions: remove spec.autoscalerRef",
        ".autoscalerRef",
    ),
    cel(
        "!has(self.provider) || (self.provider == 'knative') == (self.targetRef.kind == 'Service')",
        "provider knative goes with a Knative Service target (targetRef kind Service, apiVersion "
        "serving.knative.dev/v1) and a Knative Service target with provider knative",
        ".provider",
    ),
]


def _spec_schema(schema: dict[str, Any]) -> None:
    """The CRD's view of the spec: the CEL rules, and ``service`` optional (a Knative target has none)."""
    schema["x-kubernetes-validations"] = [*GITOPS_VALIDATIONS, *KNATIVE_VALIDATIONS]
    schema["required"] = [f for f in schema.get("required", []) if f != "service"]


class CanarySpec(KubeModel):
    """The desired rollout of a Deployment or a Knative Service."""

    model_config = ConfigDict(json_schema_extra=_spec_schema)

    @model_validator(mode="before")
    @classmethod
    def _knative_service(cls, data: Any) -> Any:
        """A Knative Service target needs no ``service`` (Knative routes by revision): an empty one
        stands in, so that the rest of the code reads one shape."""
        if isinstance(data, dict) and data.get("service") is None:
            target = data.get("targetRef") or data.get("target_ref")
            kind = target.get("kind") if isinstance(target, dict) else getattr(target, "kind", None)
            if kind == "Service":
                return {**data, "service": {"port": KNATIVE_PORT}}
        return data

    @model_validator(mode="after")
    def _knative_pairing(self) -> CanarySpec:
        ref = self.target_ref
        if ref.knative and ref.api_version != KNATIVE_SERVING:
            raise ValueError(
                f"spec.targetRef: a Service target must be a Knative Service (apiVersion {KNATIVE_SERVING}); "
                "canary does not support plain Service targets"
            )
        if self.target_ref.knative and self.autoscaler_ref is not None:
            raise ValueError("spec.autoscalerRef: a Knative Service scales its own revisions; remove it")
        if self.provider is not None and (self.provider is Provider.KNATIVE) != self.target_ref.knative:
            raise ValueError(knative_mismatch(self.provider.value, self.target_ref.knative))
        return self

    provider: Provider | None = None
    """Traffic provider; default the controller's --provider flag."""
    metrics_server: str | None = None
    """Prometheus URL for builtin metrics and inline queries; default the controller's flag."""
    target_ref: TargetRef
    """The workload to canary."""
    autoscaler_ref: AutoscalerRef | None = None
    """The target's autoscaler, cloned for the primary."""
    ingress_ref: IngressRef | None = None
    """The Ingress the nginx provider clones."""
    route_ref: LocalObjectRef | None = None
    """The APISIX route of Flagger's apisix provider, which canary does not support: refused when set."""
    upstream_ref: LocalObjectRef | None = None
    """The Gloo upstream of Flagger's gloo provider, which canary does not support: refused when set."""
    service: CanaryService
    """The generated Services and routes."""
    analysis: CanaryAnalysis | None = None
    """The analysis; without it the canary is promoted without analysis."""
    canary_analysis: CanaryAnalysis | None = None
    """Deprecated name of analysis (used only when analysis is not set)."""
    progress_deadline_seconds: Annotated[int, Field(ge=1)] | None = None
    """Seconds the canary and the primary may take to become ready; default 600."""
    skip_analysis: bool | None = None
    """Promote new revisions without analysis."""
    revert_on_deletion: bool | None = None
    """On deletion, give the traffic back to the target before removing the primary."""
    suspend: bool | None = None
    """Pause all rollout activity for this canary."""
    gitops: GitOpsSpec | None = None
    """Record rollbacks (a revert commit or pull request) and promotions (the images, committed to the
    next environment) in the Git repository the cluster is deployed from."""

    # ---- accessors: defaults and clamps, in one place ------------------------------------------
    @property
    def effective_analysis(self) -> CanaryAnalysis | None:
        return self.analysis or self.canary_analysis

    @property
    def analysis_interval_seconds(self) -> float:
        """Flagger: default 60s, raised to at least 10s."""
        return self.interval_seconds(MIN_INTERVAL_SECONDS)

    def interval_seconds(self, minimum: float) -> float:
        """The analysis interval, raised to ``minimum`` (the controller's --min-analysis-interval)."""
        a = self.effective_analysis
        seconds = parse_duration(a.interval) if a and a.interval else DEFAULT_INTERVAL_SECONDS
        return max(seconds, minimum)

    def webhooks_of(self, kind: HookType) -> list[CanaryWebhook]:
        """The webhooks of one type, in the order of the spec."""
        a = self.effective_analysis
        return [w for w in (a.webhooks if a else None) or [] if w.hook_type is kind]

    @property
    def judge(self) -> JudgeSettings:
        a = self.effective_analysis
        return a.judge if a and a.judge else JudgeSettings()

    @property
    def max_held_checks(self) -> int:
        a = self.effective_analysis
        return a.max_held_checks if a and a.max_held_checks else DEFAULT_MAX_HELD_CHECKS

    @property
    def threshold(self) -> int:
        """Flagger: default 1 when unset or not positive."""
        a = self.effective_analysis
        return a.threshold if a and a.threshold and a.threshold > 0 else 1

    @property
    def max_weight(self) -> int:
        """100 by default; with stepWeights, the last step (at most 100)."""
        a = self.effective_analysis
        if a is None:
            return 100
        if not a.step_weight and a.step_weights:
            return min(100, a.step_weights[-1])
        return a.max_weight if a.max_weight else 100

    @property
    def progress_deadline(self) -> int:
        return self.progress_deadline_seconds or DEFAULT_PROGRESS_DEADLINE_SECONDS

    @property
    def primary_ready_threshold(self) -> int:
        a = self.effective_analysis
        return a.primary_ready_threshold if a and a.primary_ready_threshold else DEFAULT_READY_THRESHOLD

    @property
    def canary_ready_threshold(self) -> int:
        a = self.effective_analysis
        return a.canary_ready_threshold if a and a.canary_ready_threshold else DEFAULT_READY_THRESHOLD

    @property
    def skips_analysis(self) -> bool:
        return bool(self.skip_analysis) or self.effective_analysis is None

    @property
    def strategy(self) -> Strategy:
        """Flagger's rule: match and iterations -> A/B; iterations -> blue/green; else canary."""
        a = self.effective_analysis
        iterations = a.iterations if a and a.iterations else 0
        if a and a.match and iterations > 0:
            return Strategy.AB_TESTING
        if iterations > 0:
            return Strategy.BLUE_GREEN
        return Strategy.CANARY

    @property
    def apex_service(self) -> str:
        return self.service.apex_name(self.target_ref.name)


# ----------------------------------------------------------------------------------------- status
class Condition(KubeModel):
    type: str
    """Condition type: Promoted or Ready."""
    status: Literal["True", "False", "Unknown"]
    """True, False or Unknown."""
    reason: str | None = None
    """Machine-readable reason (the phase for Promoted; InvalidSpec for Ready=False)."""
    message: str | None = None
    """What happened, for people."""
    last_update_time: str | None = None
    """When the condition was last written (RFC 3339)."""
    last_transition_time: str | None = None
    """When the status last changed (RFC 3339)."""


class MetricStatus(KubeModel):
    """What one metric showed at the last analysis check."""

    name: str
    """The metric."""
    result: Literal["passed", "failed", "held"]
    """passed, failed (counts toward threshold) or held (counts toward maxHeldChecks)."""
    message: str | None = None
    """The value against its range, or the judge's evidence, or why there is none."""
    value: float | None = None
    """The canary's value (instant query)."""
    canary_median: float | None = None
    """Judge: median of the canary's samples (its rate, for a success rate compared by counts)."""
    primary_median: float | None = None
    """Judge: median of the primary's samples (its rate, for a success rate compared by counts)."""
    shift: float | None = None
    """Judge: Hodges-Lehmann shift, canary minus primary, in the metric's unit."""
    p_value: float | None = None
    """Judge: Holm-adjusted p-value (Mann-Whitney U; Fisher's exact test for a success rate by counts)."""
    canary_samples: int | None = None
    """Judge: samples of the canary (requests, for a success rate compared by counts)."""
    primary_samples: int | None = None
    """Judge: samples of the primary (requests, for a success rate compared by counts)."""


class AnalysisStatus(KubeModel):
    """The last analysis check."""

    time: str
    """When it ran (RFC 3339)."""
    result: Literal["passed", "failed", "held"]
    """passed, failed or held."""
    score: float | None = None
    """The judge's score, 0-100, when metrics were compared."""
    metrics: list[MetricStatus] | None = None
    """Per metric."""


class CanaryStatus(KubeModel):
    """What the controller last observed and decided; the only state it keeps."""

    phase: Phase = Phase.NONE
    """Where the rollout is."""
    observed_generation: int | None = None
    """The metadata.generation of the spec this status was computed from."""
    target_generation: int | None = None
    """The metadata.generation of the target Deployment this status was computed from: `canary status`
    waits for it to equal the target's before it reads the phase as the verdict on the target."""
    failed_checks: int = 0
    """Failed checks in the current run."""
    held_checks: int = 0
    """Checks in the current run that could not decide (no values, inconclusive or marginal judgement)."""
    canary_weight: int = 0
    """Share of traffic, in percent, routed to the canary."""
    iterations: int = 0
    """Completed iterations (A/B testing and blue/green)."""
    last_applied_spec: str | None = None
    """Hash of the target's pod template and tracked configs at the last observation."""
    last_promoted_spec: str | None = None
    """Hash of what the primary runs."""
    tracked_configs: dict[str, str] | None = None
    """Checksums of the ConfigMaps and Secrets the target references (configmap/NAME, secret/NAME)."""
    last_transition_time: str | None = None
    """When the status last changed (RFC 3339)."""
    canary_unready_since: str | None = None
    """When the canary was first seen not ready in this run; with progressDeadlineSeconds it bounds the
    wait, even for a canary that crash-loops and never reports a deadline itself (RFC 3339)."""
    primary_unready_since: str | None = None
    """When the primary was first seen not ready while initializing or promoting (RFC 3339)."""
    analysis_start_time: str | None = None
    """When the current run started; metric samples for the judge are taken from here on (RFC 3339)."""
    canary_traffic_since: str | None = None
    """When the router first sent this run's canary traffic (RFC 3339); the analysis counts no sample
    from before it, so the last requests of the previous revision's pods never count for this one."""
    last_analysis: AnalysisStatus | None = None
    """Evidence of the last analysis check: each metric's value, samples and verdict."""
    conditions: list[Condition] | None = None
    """Promoted (kubectl wait canary/NAME --for=condition=Promoted), Ready (spec validity) and Analysis
    (the last analysis check, naming the metric and the cause when it did not pass)."""
    session_affinity_cookie: str | None = None
    """Cookie pinning clients to the canary during this run."""
    primary_session_affinity_cookie: str | None = None
    """Cookie pinning clients to the primary during this run."""
    previous_session_affinity_cookie: str | None = None
    """Cookie of the previous run, expired on the primary route."""
    gitops: GitOpsStatus | None = None
    """The commits behind the promoted and the current spec, a Git write still owed, and the last one
    made (spec.gitops)."""
    promoted_by: str | None = None
    """Who promoted this run by hand (canary promote): its promotion moves all traffic to the primary
    as soon as the primary is ready, without waiting for the interval between promotion steps."""
    last_request: RequestStatus | None = None
    """The answer to the last request made by hand (canary promote/abort/retry/pause/resume)."""


class Canary(KubeModel):
    """A progressive rollout of a Deployment."""

    api_version: Literal["canary.dev/v1alpha1"] = API_VERSION
    """canary.dev/v1alpha1."""
    kind: Literal["Canary"] = "Canary"
    """Canary."""
    metadata: Annotated[dict[str, Any], Field(json_schema_extra={"type": "object"})] = Field(
        default_factory=dict
    )
    """Standard object metadata."""
    spec: CanarySpec
    """The desired rollout."""
    status: CanaryStatus = Field(default_factory=CanaryStatus)
    """The observed state."""
