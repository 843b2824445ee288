"""What the controller tells the outside world without waiting for it: event webhooks and
post-rollout hooks.

Who calls this: ``canary.operator.tick`` after it recorded an event or the core ended a run.  Every
call goes through a ``Dispatcher`` (its own threads, a bounded queue), so a slow or dead receiver
never delays a tick; a tick only enqueues.

* Each receiver (URL) has its own lane in the dispatcher: a hung receiver delays only itself.
* Event hooks receive every event of their canary (Flagger's payload plus ``eventMessage``,
  ``eventType``, ``eventReason``, ``timestamp``); a canary without an event hook of its own sends to
  the controller's ``--event-webhook``, if set.  A failed delivery is logged, never retried forever.
* Post-rollout hooks are called when a run ends (Succeeded or Failed).  Their outcome is an event on
  the Canary: Normal when the hook answered 2xx, Warning with its answer otherwise (as Flagger).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from canary.adapters.kube.events import EventRecorder
from canary.adapters.notify import Destination, Message, Notifier, ProviderUnavailable, destination, wanted
from canary.adapters.webhooks import (
    Dispatcher,
    SecretReader,
    TokenUnavailable,
    WebhookClient,
    hook_token,
    payload,
)
from canary.core.actions import Reason, RecordEvent, Severity, normal, warning
from canary.models.alert_provider import AlertProvider
from canary.models.canary import CanaryAlert, CanarySpec, CanaryStatus, CanaryWebhook, HookType

log = logging.getLogger(__name__)


class Notices:
    def __init__(
        self,
        webhooks: WebhookClient,
        events: EventRecorder,
        *,
        event_webhook: str | None = None,
        dispatcher: Dispatcher | None = None,
        clock: Callable[[], datetime],
        read_secret: SecretReader | None = None,
        read_alert_provider: Callable[[str, str], dict[str, Any] | None] | None = None,
        notifier: Notifier | None = None,
        cluster: str | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.read_secret = read_secret
        self.read_alert_provider = read_alert_provider
        self.notifier = notifier or Notifier()
        self.cluster = cluster
        self.events = events
        self.clock = clock
        self.dispatcher = dispatcher or Dispatcher()
        self.global_hook = (
            CanaryWebhook.model_validate({"name": "event-webhook", "type": "event", "url": event_webhook})
            if event_webhook
            else None
        )

    def event(
        self,
        canary: dict[str, Any],
        spec: CanarySpec,
        event: RecordEvent,
        *,
        phase: str,
        checksum: str,
        now: datetime,
    ) -> None:
        hooks = spec.webhooks_of(HookType.EVENT) or ([self.global_hook] if self.global_hook else [])
        meta = canary["metadata"]
        for hook in hooks:
            body = payload(
                meta["name"],
                meta["namespace"],
                phase,
                checksum,
                hook.metadata,
                event=(event.message, event.type.value, event.reason.value, now),
            )
            self.dispatcher.submit(hook.url, f"event webhook {hook.name}", partial(self._deliver, hook, body))

    def _send(self, hook: CanaryWebhook, body: dict[str, object]) -> tuple[bool, str]:
        try:
            token = hook_token(self.read_secret, str(body["namespace"]), hook)
        except TokenUnavailable as e:
            return False, str(e)
        answer = self.webhooks.call(hook, body, token)
        return answer.ok, answer.describe()

    def _deliver(self, hook: CanaryWebhook, body: dict[str, object]) -> None:
        ok, said = self._send(hook, body)
        if not ok:
            log.warning("event webhook %s of %s/%s: %s", hook.name, body["namespace"], body["name"], said)

    def post_rollout(self, canary: dict[str, Any], spec: CanarySpec, phase: str, checksum: str) -> None:
        meta = canary["metadata"]
        for hook in spec.webhooks_of(HookType.POST_ROLLOUT):
            body = payload(meta["name"], meta["namespace"], phase, checksum, hook.metadata)
            self.dispatcher.submit(
                hook.url,
                f"post-rollout webhook {hook.name}",
                partial(self._post_rollout, canary, spec, hook, body),
            )

    def _post_rollout(
        self, canary: dict[str, Any], spec: CanarySpec, hook: CanaryWebhook, body: dict[str, object]
    ) -> None:
        ok, said = self._send(hook, body)
        if ok:
            event = normal(Reason.POST_ROLLOUT, f"Post-rollout webhook {hook.name} passed")
        else:
            event = warning(Reason.POST_ROLLOUT, f"Post-rollout webhook {hook.name} failed: {said}")
        now = self.clock()
        self.events.record(canary, event, now)
        self.event(canary, spec, event, phase=str(body["phase"]), checksum=str(body["checksum"]), now=now)

    # ------------------------------------------------------------------------------ notifications
    def alert(
        self,
        canary: dict[str, Any],
        spec: CanarySpec,
        status: CanaryStatus,
        event: RecordEvent,
        now: datetime,
    ) -> None:
        """Send ``event`` to every ``analysis.alerts[]`` entry that takes its severity."""
        if event.alert is None:
            return
        analysis = spec.effective_analysis
        alerts = [a for a in (analysis.alerts if analysis else None) or [] if wanted(a.severity, event.alert)]
        if not alerts:
            return
        meta = canary["metadata"]
        failed: tuple[tuple[str, str], ...] = ()
        last = status.last_analysis
        if event.alert is Severity.ERROR and last is not None:
            failed = tuple((m.name, m.message or "") for m in last.metrics or [] if m.result == "failed")
        message = Message(
            canary=meta["name"],
            namespace=meta["namespace"],
            target=spec.target_ref.name,
            phase=status.phase.value,
            weight=status.canary_weight,
            severity=event.alert,
            reason=event.reason.value,
            text=event.message,
            time=now,
            failed=failed,
            cluster=self.cluster,
            git=_git_facts(status, event),
        )
        for entry in alerts:
            ns = entry.provider_ref.namespace or meta["namespace"]
            self.dispatcher.submit(
                f"alert:{ns}/{entry.provider_ref.name}",
                f"alert {entry.name}",
                partial(self._notify, entry, ns, message),
            )

    def _notify(self, entry: CanaryAlert, namespace: str, message: Message) -> None:
        try:
            where = self._destination(entry, namespace)
        except ProviderUnavailable as e:
            log.warning("alert %s of %s/%s: %s", entry.name, message.namespace, message.canary, e)
            return
        failure = self.notifier.send(where, message)
        if failure is not None:
            log.warning(
                "alert %s of %s/%s not sent: %s", entry.name, message.namespace, message.canary, failure
            )

    def _destination(self, entry: CanaryAlert, namespace: str) -> Destination:
        name = entry.provider_ref.name
        body = self.read_alert_provider(namespace, name) if self.read_alert_provider else None
        if body is None:
            raise ProviderUnavailable(f"AlertProvider {namespace}/{name} not found")
        try:
            provider = AlertProvider.model_validate(body)
        except ValueError as e:
            raise ProviderUnavailable(f"AlertProvider {namespace}/{name} is not valid: {e}") from None
        secret = None
        if provider.spec.secret_ref is not None:
            secret_name = provider.spec.secret_ref.name
            secret = self.read_secret(namespace, secret_name) if self.read_secret else None
            if secret is None:
                raise ProviderUnavailable(
                    f"Secret {namespace}/{secret_name} of AlertProvider {name} not found"
                )
        return destination(provider.spec, secret)


_GIT_REASONS = {
    Reason.GIT_COMMITTED,
    Reason.PULL_REQUEST_OPENED,
    Reason.GIT_NEEDS_ATTENTION,
    Reason.GIT_UP_TO_DATE,
}


def _git_facts(status: CanaryStatus, event: RecordEvent) -> dict[str, str] | None:
    """What a Git event's notification links: the write just recorded in ``status``."""
    write = status.gitops.last_write if status.gitops is not None else None
    if event.reason not in _GIT_REASONS or write is None:
        return None
    facts = {"kind": write.kind.value, "result": write.result}
    for key, value in (
        ("commit", write.commit),
        ("url", write.url),
        ("pullRequest", write.pull_request),
        ("evidence", write.evidence),
    ):
        if value:
            facts[key] = value
    return facts
