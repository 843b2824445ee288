"""Notifications: the messages sent to AlertProviders (slack, msteams, discord, generic webhook).

Who calls this: ``canary.operator.notices`` for every event the core marks with a severity (new
revision, waiting for approval, rolled back, promoted...), through the dispatcher, so that a slow
chat service never delays a tick.

Routing, as Flagger documents it: each ``analysis.alerts[]`` entry sends through its AlertProvider
what is at least as severe as its ``severity`` (``info``: everything, ``warn``: warnings and errors,
``error``: errors only; empty means ``info``, where Flagger's code matches nothing).

A message names the canary, its target, the phase, the canary weight, what happened (the event's
text), and for a failed check the check and the value it saw (from ``status.lastAnalysis``).  A Git
event's message (the revert or promotion committed, the pull request opened, a write that needs a
person) also links the commit (its page on the forge, with ``spec.gitops.forge``, else its hash) or
the pull request, and carries the evidence line the commit carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from canary.adapters.deadline import post_json
from canary.adapters.kube.secrets import secret_values
from canary.core.actions import Severity
from canary.models.alert_provider import AlertProviderSpec

_RANK = {Severity.INFO: 0, Severity.WARN: 1, Severity.ERROR: 2}
_SLACK_COLOR = {Severity.INFO: "good", Severity.WARN: "warning", Severity.ERROR: "danger"}
_HEX = {Severity.INFO: "2EB886", Severity.WARN: "DAA038", Severity.ERROR: "A30200"}


def wanted(alert_severity: str | None, severity: Severity) -> bool:
    """Does an alert with ``alert_severity`` (its lowest level) take a message of ``severity``?"""
    lowest = Severity(alert_severity) if alert_severity else Severity.INFO
    return _RANK[severity] >= _RANK[lowest]


@dataclass(frozen=True)
class Message:
    canary: str
    namespace: str
    target: str
    phase: str
    weight: int
    severity: Severity
    reason: str
    text: str
    time: datetime
    #: (check name, what it saw) of the failed checks behind this message, if any
    failed: tuple[tuple[str, str], ...] = ()
    cluster: str | None = None
    #: the Git write a Git event is about: kind, result, commit, url, pullRequest, evidence (those known)
    git: Mapping[str, str] | None = None

    def facts(self) -> list[tuple[str, str]]:
        out = [
            ("Target", f"{self.target}.{self.namespace}"),
            ("Phase", self.phase),
            ("Weight", f"{self.weight}%"),
        ]
        out += [(f"Failed check {name}", seen) for name, seen in self.failed]
        git = self.git or {}
        if "pullRequest" in git:
            out.append(("Pull request", git["pullRequest"]))
        elif "url" in git or "commit" in git:
            out.append(("Commit", git.get("url") or git["commit"]))
        if "evidence" in git:
            out.append(("Evidence", git["evidence"]))
        if self.cluster:
            out.append(("Cluster", self.cluster))
        return out

    @property
    def title(self) -> str:
        return f"{self.canary}.{self.namespace}: {self.reason}"


def render(kind: str, message: Message, *, channel: str | None, username: str | None) -> dict[str, Any]:
    """The JSON body a provider of ``kind`` expects."""
    facts = message.facts()
    if kind == "slack":
        body: dict[str, Any] = {
            "username": username or "canary",
            "attachments": [
                {
                    "color": _SLACK_COLOR[message.severity],
                    "author_name": f"{message.target}.{message.namespace}",
                    "title": message.title,
                    "text": message.text,
                    "fields": [{"title": k, "value": v, "short": len(v) < 40} for k, v in facts],
                    "ts": int(message.time.timestamp()),
                }
            ],
        }
        if channel:
            body["channel"] = channel
        return body
    if kind == "msteams":
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "themeColor": _HEX[message.severity],
            "summary": message.title,
            "sections": [
                {
                    "activityTitle": message.title,
                    "activitySubtitle": message.text,
                    "facts": [{"name": k, "value": v} for k, v in facts],
                }
            ],
        }
    if kind == "discord":
        return {
            "username": username or "canary",
            "embeds": [
                {
                    "title": message.title,
                    "description": message.text,
                    "color": int(_HEX[message.severity], 16),
                    "fields": [{"name": k, "value": v, "inline": len(v) < 40} for k, v in facts],
                    "timestamp": message.time.isoformat(),
                }
            ],
        }
    return {  # generic JSON webhook
        "canary": {"name": message.canary, "namespace": message.namespace},
        "target": message.target,
        "phase": message.phase,
        "weight": message.weight,
        "severity": message.severity.value,
        "reason": message.reason,
        "message": message.text,
        "failedChecks": [{"name": n, "seen": s} for n, s in message.failed],
        "timestamp": message.time.isoformat(),
        **({"cluster": message.cluster} if message.cluster else {}),
        **({"git": dict(message.git)} if message.git else {}),
    }


class ProviderUnavailable(Exception):
    """The AlertProvider, its Secret or its address is missing."""


@dataclass(frozen=True)
class Destination:
    kind: str
    address: str
    channel: str | None
    username: str | None
    proxy: str | None
    token: str | None = None

    def __repr__(self) -> str:  # the address and token may hold credentials
        return f"Destination({self.kind})"


def destination(spec: AlertProviderSpec, secret: Mapping[str, Any] | None) -> Destination:
    """Where to send: the address from the spec or the Secret (key ``address``); ``token`` if any."""
    data = secret_values(secret, ("address", "token")) if secret is not None else {}
    address = data.get("address") or spec.address
    if not address:
        raise ProviderUnavailable("no address: set spec.address or the Secret's address key")
    return Destination(spec.type, address, spec.channel, spec.username, spec.proxy, data.get("token"))


class Notifier:
    """Posts messages (5 s for the whole exchange by default, no retries: a notification is best
    effort)."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None, timeout: float = 5.0) -> None:
        self._transport, self._timeout = transport, timeout
        self._clients: dict[str | None, httpx.Client] = {}

    def _client(self, proxy: str | None) -> httpx.Client:
        found = self._clients.get(proxy)
        if found is None:
            found = httpx.Client(transport=self._transport, proxy=proxy, timeout=self._timeout)
            self._clients[proxy] = found
        return found

    def send(self, where: Destination, message: Message) -> str | None:
        """Send; None on success, else why not (without the address)."""
        body = render(where.kind, message, channel=where.channel, username=where.username)
        headers = {"Authorization": f"Bearer {where.token}"} if where.token else None
        answer = post_json(
            self._client(where.proxy), where.address, body, timeout=self._timeout, headers=headers
        )
        if answer.status is None:
            # Only the error's kind: a transport error's text may hold the address, which is a secret.
            return f"{where.kind}: {'timed out' if answer.timed_out else (answer.error or '').split(':')[0]}"
        if not 200 <= answer.status < 300:
            return f"{where.kind}: HTTP {answer.status}"
        return None
