"""``canary get canaries`` and ``canary get canary NAME [--watch]``: the rollouts, readable in a terminal.

Who calls this: the ``canary`` command line (and ``kubectl canary get ...``).  What it reads, with the
user's kubeconfig: Canaries and the Canary's events; nothing else, so the ``canary-operator``
ClusterRole is enough.  The one-Canary view shows the run as the controller recorded it: the phase,
the weight ladder (or the iterations) with where the run stands, each metric of the last check with
its value and evidence, the webhooks, the Git write, the revisions, the conditions, the last request
by hand and the latest events.  ``--watch`` redraws it on every change of the Canary, from a watch
(in place on a terminal; one view after another otherwise).  The rendering is pure (``render_*``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from pydantic import ValidationError
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from canary.core.weights import next_canary_weight
from canary.models.canary import GROUP, VERSION, CanarySpec
from canary.operator.watching import changes, read_canary

_PHASE_STYLE = {
    "Succeeded": "green",
    "Initialized": "green",
    "Failed": "bold red",
    "Progressing": "yellow",
    "Promoting": "cyan",
    "Finalising": "cyan",
    "Waiting": "magenta",
    "WaitingPromotion": "magenta",
}
_RESULT_STYLE = {"passed": "green", "failed": "red", "held": "yellow"}
EVENTS_SHOWN = 8


def ladder(spec: CanarySpec) -> list[int]:
    """The canary weights a run steps through (empty for iteration-based strategies)."""
    weights, current = [], 0
    while (nxt := next_canary_weight(spec, current)) > current:
        weights.append(nxt)
        current = nxt
    return weights


def _age(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "-"
    try:
        seconds = int((now - datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds())
    except ValueError:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _phase(status: dict[str, Any]) -> Text:
    phase = status.get("phase") or "None"
    return Text(phase, style=_PHASE_STYLE.get(phase, ""))


def render_list(canaries: list[dict[str, Any]], now: datetime) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("NAMESPACE", "NAME", "PHASE", "WEIGHT", "ITERATIONS", "LAST CHECK", "REVISION", "AGE"):
        table.add_column(column)
    for body in sorted(canaries, key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"])):
        status = body.get("status") or {}
        last = status.get("lastAnalysis") or {}
        table.add_row(
            body["metadata"].get("namespace", ""),
            body["metadata"]["name"],
            _phase(status),
            f"{status.get('canaryWeight', 0)}%",
            str(status.get("iterations", 0)),
            Text(last.get("result", "-"), style=_RESULT_STYLE.get(last.get("result", ""), "")),
            status.get("lastAppliedSpec") or "-",
            _age(status.get("lastTransitionTime"), now),
        )
    return table


def _steps(spec: CanarySpec | None, status: dict[str, Any]) -> Text:
    if spec is None:
        return Text("-")
    weight = int(status.get("canaryWeight", 0))
    weights = ladder(spec)
    if not weights or spec.strategy.value != "canary":
        analysis = spec.effective_analysis
        total = analysis.iterations if analysis is not None and analysis.iterations else 0
        return Text(f"iteration {status.get('iterations', 0)} of {total}")
    out = Text()
    for i, w in enumerate(weights):
        if i:
            out.append(" -> ")
        style = "bold reverse" if w == weight else ("green" if w < weight else "dim")
        out.append(f"{w}%", style=style)
    return out


def _metrics(status: dict[str, Any]) -> Table | Text:
    last = status.get("lastAnalysis") or {}
    metrics = last.get("metrics") or []
    if not metrics:
        return Text("no check yet" if not last else f"{last.get('result')} (no metrics)")
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("METRIC", "RESULT", "VALUE", "EVIDENCE"):
        table.add_column(column)
    for m in metrics:
        value = m.get("value")
        table.add_row(
            m.get("name", ""),
            Text(m.get("result", ""), style=_RESULT_STYLE.get(m.get("result", ""), "")),
            "-" if value is None else f"{value:g}",
            m.get("message") or "",
        )
    return table


def render_canary(body: dict[str, Any], events: list[tuple[str, str, str, str]], now: datetime) -> Group:
    """One Canary.  ``events``: (time, type, reason, message), oldest first."""
    meta, status = body.get("metadata", {}), body.get("status") or {}
    try:
        spec: CanarySpec | None = CanarySpec.model_validate(body.get("spec") or {})
    except ValidationError:
        spec = None
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    target = (body.get("spec") or {}).get("targetRef", {}).get("name", "?")
    head.add_row("Canary", f"{meta.get('namespace', '')}/{meta.get('name', '')}")
    head.add_row("Phase", _phase(status))
    if spec is not None:
        head.add_row("Strategy", f"{spec.strategy.value}, provider {spec.provider or 'default'}")
    head.add_row("Target", f"{target} (primary {target}-primary)")
    head.add_row("Steps", _steps(spec, status))
    head.add_row("Canary weight", f"{status.get('canaryWeight', 0)}%")
    head.add_row("Failed checks", str(status.get("failedChecks", 0)))
    revision = f"{status.get('lastAppliedSpec') or '-'} (promoted: {status.get('lastPromotedSpec') or '-'})"
    head.add_row("Revision", revision)
    gitops = status.get("gitops") or {}
    if gitops:
        head.add_row(
            "Git",
            f"applied {gitops.get('appliedRevision') or '-'}, "
            f"promoted {gitops.get('promotedRevision') or '-'}",
        )
        write = gitops.get("lastWrite") or {}
        if write:
            head.add_row(
                "Git write",
                f"{write.get('kind')}: {write.get('result')} {write.get('commit') or write.get('url') or ''}",
            )
        if gitops.get("pending"):
            head.add_row("Git owed", str(gitops["pending"].get("kind")))
    webhooks = [w for w in ((body.get("spec") or {}).get("analysis") or {}).get("webhooks") or []]
    if webhooks:
        head.add_row("Webhooks", ", ".join(f"{w.get('name')} ({w.get('type', 'rollout')})" for w in webhooks))
    request = status.get("lastRequest") or {}
    if request:
        verdict = "done" if request.get("accepted") else "refused"
        head.add_row(
            "Last request",
            f"{request.get('action')} by {request.get('by')}: {verdict}: {request.get('message')}",
        )
    conditions = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("CONDITION", "STATUS", "REASON", "MESSAGE"):
        conditions.add_column(column)
    for c in status.get("conditions") or []:
        conditions.add_row(c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", ""))
    recent = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("AGE", "TYPE", "REASON", "MESSAGE"):
        recent.add_column(column)
    for stamp, kind, reason, message in events[-EVENTS_SHOWN:]:
        recent.add_row(
            _age(stamp, now), Text(kind, style="red" if kind == "Warning" else ""), reason, message
        )
    parts: list[RenderableType] = [head, Text("\nLast check", style="bold"), _metrics(status), Text()]
    parts += [conditions, Text(), recent]
    return Group(*parts)


def _events(core: k8s.CoreV1Api, namespace: str, name: str) -> list[tuple[str, str, str, str]]:
    items = core.list_namespaced_event(
        namespace,
        field_selector=f"involvedObject.kind=Canary,involvedObject.name={name}",
        _request_timeout=10,
    ).items
    out = []
    for e in items:
        when = e.last_timestamp or e.event_time or e.first_timestamp
        stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else ""
        out.append((stamp, e.type or "", e.reason or "", e.message or ""))
    return sorted(out)


def show_list(api: k8s.ApiClient, namespace: str | None, console: Console) -> None:
    custom = k8s.CustomObjectsApi(api)
    if namespace is None:
        found: Any = custom.list_cluster_custom_object(GROUP, VERSION, "canaries", _request_timeout=10)
    else:
        found = custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "canaries", _request_timeout=10
        )
    items = list(found.get("items", []))
    if not items:
        console.print("No canaries found" + (f" in namespace {namespace}" if namespace else ""))
        return
    console.print(render_list(items, datetime.now(UTC)))


def show_one(
    api: k8s.ApiClient, namespace: str, name: str, *, follow: bool, timeout: float, console: Console
) -> None:
    custom, core = k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
    body = read_canary(custom, namespace, name)

    def view(obj: dict[str, Any]) -> Group:
        return render_canary(obj, _events(core, namespace, name), datetime.now(UTC))

    if not follow:
        console.print(view(body))
        return
    if console.is_terminal:
        from rich.live import Live  # noqa: PLC0415 - only a terminal redraws in place

        with Live(view(body), console=console, auto_refresh=False) as live:
            for kind, obj in changes(custom, namespace, name, body["metadata"]["resourceVersion"], timeout):
                if kind != "DELETED":
                    live.update(view(obj), refresh=True)
        return
    console.print(view(body))
    for kind, obj in changes(custom, namespace, name, body["metadata"]["resourceVersion"], timeout):
        if kind != "DELETED":
            console.print(Text("---"))
            console.print(view(obj))
