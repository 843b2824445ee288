"""The ``canary`` command line: thin commands that parse flags and call one function each.

Who calls this: users, the container's entry point and ``make test`` (which checks ``canary --help``
from a clean install, standing in for the Docker image that cannot be built on CI machines).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
import yaml

from canary import __version__
from canary.models.canary import MIN_INTERVAL_SECONDS, Provider
from canary.models.crd import all_crds

if TYPE_CHECKING:
    from canary.core.observations import GitOutcome


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """canary: progressive delivery for Kubernetes Deployments.

    Declare a Canary for a Deployment; the controller shifts traffic to each new revision step by
    step, analyses it, and promotes or rolls it back.
    """


@main.command()
def version() -> None:
    """Print the version of canary and of the Python it runs on."""
    click.echo(f"canary {__version__} (python {platform.python_version()})")


@main.command()
@click.argument("file", type=click.File("r"))
def convert(file: TextIO) -> None:
    """Rewrite Flagger manifests (Canary, MetricTemplate, AlertProvider) as canary's.

    Reads FILE (multi-document YAML; - for standard input), writes the converted YAML, comments
    kept, to standard output, and says on standard error what it changed.  Exits 1 when a document
    still has something canary refuses (each named with its field).
    """
    from ruamel.yaml import YAML  # noqa: PLC0415 - only this command needs round-trip YAML

    from canary.models.flagger import convert_document  # noqa: PLC0415

    yaml_rt: Any = YAML()  # ruamel's YAML is untyped enough that mypy sees its dump_all as object
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096
    docs = list(yaml_rt.load_all(file.read()))
    notes: list[str] = []
    refusals: list[str] = []
    for doc in docs:
        changed, refused = convert_document(doc)
        notes += changed + refused
        refusals += refused
    yaml_rt.dump_all(docs, sys.stdout)
    for note in notes:
        click.echo(note, err=True)
    if not notes:
        click.echo("nothing to convert: no flagger.app/v1beta1 documents", err=True)
    if refusals:
        raise SystemExit(1)


@main.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per CRD into this directory instead of printing them.",
)
def crds(output_dir: Path | None) -> None:
    """Print the CustomResourceDefinitions (generated from the models) as YAML.

    Install them with: canary crds | kubectl apply -f -
    """
    docs = all_crds()
    if output_dir is None:
        click.echo(yaml.safe_dump_all(docs.values(), sort_keys=False, width=110), nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        (output_dir / name).write_text(render_crd(doc))
        click.echo(f"wrote {output_dir / name}")


def render_crd(doc: dict[str, object]) -> str:
    header = "# Generated from canary/models by `canary crds --output-dir crds`; do not edit by hand.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, width=110, allow_unicode=True)


@main.command()
@click.option(
    "--namespace", "-n", "namespaces", multiple=True, help="Watch only this namespace (repeatable)."
)
@click.option(
    "--provider",
    type=click.Choice([p.value for p in Provider]),
    default=Provider.KUBERNETES.value,
    show_default=True,
    help="Traffic provider for canaries that do not set spec.provider.",
)
@click.option(
    "--metrics-server", default="http://prometheus:9090", show_default=True, help="Default Prometheus URL."
)
@click.option(
    "--kubeconfig", envvar="KUBECONFIG", help="Kubeconfig file; default in-cluster or ~/.kube/config."
)
@click.option(
    "--liveness", default=None, help="Serve kopf's liveness probe here, e.g. http://0.0.0.0:8081/healthz."
)
@click.option("--metrics-address", default=None, help="Serve Prometheus metrics on HOST:PORT, e.g. :8080.")
@click.option(
    "--min-analysis-interval",
    type=float,
    default=MIN_INTERVAL_SECONDS,
    show_default=True,
    help="Shortest analysis interval honoured, in seconds (lower only for tests and demos).",
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json (one object per line) for log pipelines.",
)
@click.option(
    "--leader-election/--no-leader-election",
    default=True,
    show_default=True,
    help="Act only while holding a Lease, so that replicas never drive the same canary.",
)
@click.option(
    "--leader-election-namespace",
    envvar="POD_NAMESPACE",
    help="Namespace of the Lease; default $POD_NAMESPACE, else the first --namespace, else default.",
)
@click.option(
    "--identity", default=None, help="Name of this replica (default: hostname plus a random suffix)."
)
@click.option("--workers", type=int, default=16, show_default=True, help="Threads running ticks at once.")
@click.option("--cluster-name", default=None, help="Name this cluster in notifications.")
@click.option(
    "--event-webhook",
    envvar="EVENT_WEBHOOK_URL",
    default=None,
    help="POST every canary event here (JSON, as event webhooks) unless the canary has its own event hook.",
)
@click.option(
    "--gitops-workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Working copies of spec.gitops repositories (default: $TMPDIR/canary-gitops).",
)
@click.option("--lease-seconds", type=float, default=15.0, show_default=True, help="Lease duration.")
@click.option("--renew-seconds", type=float, default=5.0, show_default=True, help="Lease renewal period.")
@click.option(
    "--api-timeout", type=float, default=10.0, show_default=True, help="Seconds per Kubernetes API request."
)
@click.option(
    "--git-command-timeout", type=float, default=30.0, show_default=True, help="Seconds per git command."
)
@click.option(
    "--git-write-deadline",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds for one whole Git write (sync, commit, push and retries, pull request).",
)
@click.option(
    "--forge-timeout", type=float, default=15.0, show_default=True, help="Seconds per forge API request."
)
@click.option(
    "--prometheus-timeout", type=float, default=5.0, show_default=True, help="Seconds per Prometheus query."
)
@click.option(
    "--notification-timeout", type=float, default=5.0, show_default=True, help="Seconds per notification."
)
@click.option(
    "--slow-tick-seconds",
    type=float,
    default=2.0,
    show_default=True,
    help="A canary whose last tick took longer runs on the slow pool, away from the others' workers.",
)
def run(
    *,
    namespaces: tuple[str, ...],
    provider: str,
    metrics_server: str,
    kubeconfig: str | None,
    liveness: str | None,
    metrics_address: str | None,
    min_analysis_interval: float,
    log_level: str,
    log_format: str,
    leader_election: bool,
    leader_election_namespace: str | None,
    identity: str | None,
    workers: int,
    event_webhook: str | None,
    cluster_name: str | None,
    gitops_workdir: str | None,
    lease_seconds: float,
    renew_seconds: float,
    api_timeout: float,
    git_command_timeout: float,
    git_write_deadline: float,
    forge_timeout: float,
    prometheus_timeout: float,
    notification_timeout: float,
    slow_tick_seconds: float,
) -> None:
    """Run the controller (kopf under the hood)."""
    import dataclasses  # noqa: PLC0415
    import logging  # noqa: PLC0415 - the controller's imports (kopf) stay out of every other command
    import secrets  # noqa: PLC0415
    import socket  # noqa: PLC0415

    from canary.logs import configure  # noqa: PLC0415
    from canary.operator.main import run_controller  # noqa: PLC0415
    from canary.operator.settings import Settings  # noqa: PLC0415

    configure(log_level, log_format)
    if log_level != "debug":
        # kopf logs every handled watch event at INFO; the controller's own log says what matters.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings = Settings(
        default_provider=Provider(provider),
        metrics_server=metrics_server,
        namespaces=namespaces,
        min_interval=min_analysis_interval,
        identity=identity or f"{socket.gethostname()}-{secrets.token_hex(3)}",
        lease_namespace=(leader_election_namespace or (namespaces[0] if namespaces else "default"))
        if leader_election
        else None,
        lease_seconds=lease_seconds,
        renew_seconds=renew_seconds,
        workers=workers,
        event_webhook=event_webhook,
        cluster_name=cluster_name,
        api_timeout=api_timeout,
        git_command_timeout=git_command_timeout,
        git_write_deadline=git_write_deadline,
        forge_timeout=forge_timeout,
        prometheus_timeout=prometheus_timeout,
        notification_timeout=notification_timeout,
        slow_tick_seconds=slow_tick_seconds,
    )
    if gitops_workdir:
        settings = dataclasses.replace(settings, gitops_workdir=Path(gitops_workdir))
    run_controller(settings, kubeconfig=kubeconfig, liveness=liveness, metrics_address=metrics_address)


_KUBECONFIG = click.option(
    "--kubeconfig", envvar="KUBECONFIG", help="Kubeconfig file; default ~/.kube/config."
)
_NAMESPACE = click.option(
    "--namespace", "-n", default="default", show_default=True, help="The Canary's namespace."
)
_AS = click.option(
    "--as-name", "by", default=None, help="Who asks, for the Canary-By trailer; default the API user."
)


def _report(outcome: GitOutcome) -> None:
    """Print a by-hand write's outcome; exit 1 unless it was done (or nothing was left to do)."""
    if outcome.record is None:
        raise click.ClickException(f"the Git write failed: {outcome.error}")
    click.echo(outcome.record.message)
    if outcome.record.result == "needsAttention":
        raise SystemExit(1)


_WAIT = click.option(
    "--timeout", default=30.0, show_default=True, help="Seconds to wait for the controller's answer."
)


def _ask(
    action: str,
    name: str,
    *,
    namespace: str,
    kubeconfig: str | None,
    by: str | None,
    timeout: float,
    full: bool,
    images: tuple[tuple[str, str], ...] = (),
) -> None:
    """Ask the controller; print its answer; exit 0 when done, 1 when refused, 2 without an answer."""
    from canary.models.requests import RequestAction  # noqa: PLC0415
    from canary.operator import asking, byhand  # noqa: PLC0415

    try:
        answer = asking.ask(
            byhand.api_client(kubeconfig),
            namespace,
            name,
            RequestAction(action),
            full=full,
            images=images,
            by=by,
            timeout=timeout,
        )
    except byhand.Refused as e:
        raise click.ClickException(str(e)) from None
    except asking.NoAnswer as e:
        click.echo(f"Error: {e}", err=True)
        raise SystemExit(2) from None
    if not answer.accepted:
        click.echo(f"{name}: {answer.action} refused: {answer.message}", err=True)
        raise SystemExit(1)
    click.echo(f"{name}: {answer.action}: {answer.message}")


@main.command()
@click.argument("name")
@click.option("--watch", "-w", "follow", is_flag=True, help="Follow the rollout until there is a verdict.")
@click.option(
    "--timeout", default=0.0, show_default=True, help="With --watch: give up after N seconds (0: never)."
)
@_NAMESPACE
@_KUBECONFIG
def status(*, name: str, follow: bool, timeout: float, namespace: str, kubeconfig: str | None) -> None:
    """Say how Canary NAME's rollout of the target's current revision went, as an exit code.

    0 promoted (Succeeded, or Initialized), 1 failed or rolled back, 2 no verdict yet (in progress, or
    not within --timeout), 3 invalid (the spec, a missing kind, or RBAC: waiting will not help).  The
    phase counts only once the controller has seen the target as it is now, so a pipeline that has
    just changed the Deployment never reads the previous revision's verdict as this one's.
    """
    from canary.operator import byhand, rollout_status, watching  # noqa: PLC0415

    api = byhand.api_client(kubeconfig)
    try:
        code = rollout_status.status(api, namespace, name, follow=follow, timeout=timeout, echo=click.echo)
    except watching.NotFound as e:
        raise click.ClickException(str(e)) from None
    raise SystemExit(code)


@main.command()
@click.argument("name")
@click.option("--full", is_flag=True, help="Skip the remaining steps and the analysis: promote now.")
@click.option(
    "--env",
    default=None,
    help="Promote in Git instead: what NAME's primary runs, into this environment of its chain.",
)
@_NAMESPACE
@_KUBECONFIG
@_AS
@_WAIT
def promote(
    *,
    name: str,
    full: bool,
    env: str | None,
    namespace: str,
    kubeconfig: str | None,
    by: str | None,
    timeout: float,
) -> None:
    """Promote Canary NAME's rollout: the next step now (--full: all the way, now).

    Without --env: the controller moves the rollout on without waiting for the analysis: the next
    weight step (or iteration), or the promotion when it is at the last one, waiting for approval to
    promote, or with --full; waiting for approval to start, it starts.  Refused (exit 1) when the
    phase has nothing to promote.

    With --env ENV (an environment chain in spec.gitops): the images NAME's primary runs (its last
    promoted release) are written into ENV's files in Git, committed (or proposed) with the trailers and
    a Canary-By trailer naming you.  Nothing in the cluster changes: the agent applies the commit and
    that environment's own Canary analyses it.
    """
    if env is None:
        _ask("promote", name, namespace=namespace, kubeconfig=kubeconfig, by=by, timeout=timeout, full=full)
        return
    if full:
        raise click.UsageError("--full is for the rollout; --env promotes in Git")
    from canary.operator import byhand  # noqa: PLC0415

    try:
        _report(byhand.promote(byhand.api_client(kubeconfig), byhand.Asked(namespace, name, env, by)))
    except byhand.Refused as e:
        raise click.ClickException(str(e)) from None


def _request_command(action: str, summary: str) -> None:
    @main.command(name=action, help=summary)
    @click.argument("name")
    @_NAMESPACE
    @_KUBECONFIG
    @_AS
    @_WAIT
    def command(*, name: str, namespace: str, kubeconfig: str | None, by: str | None, timeout: float) -> None:
        _ask(action, name, namespace=namespace, kubeconfig=kubeconfig, by=by, timeout=timeout, full=False)


_request_command(
    "abort",
    "Abort Canary NAME's rollout: all traffic back on the primary, the revision Failed (and, with "
    "spec.gitops, reverted in Git), until the target changes or `canary retry`.",
)
_request_command(
    "retry",
    "Run Canary NAME's failed revision again from the first step (refused when spec.gitops reverts "
    "failures: Git no longer describes it).",
)
_request_command(
    "pause",
    "Suspend Canary NAME (spec.suspend: true): no step, check or promotion until `canary resume`.",
)
_request_command("resume", "Resume a suspended Canary NAME (spec.suspend: false).")


@main.group()
def get() -> None:
    """Show canaries: a table of them, or one run in detail."""


@get.command(name="canaries")
@click.option("--namespace", "-n", default=None, help="Only this namespace (default: every namespace).")
@_KUBECONFIG
def get_canaries(namespace: str | None, kubeconfig: str | None) -> None:
    """A table of the canaries: phase, weight, iterations, the last check, the revision."""
    from rich.console import Console  # noqa: PLC0415

    from canary.operator import byhand, view  # noqa: PLC0415

    view.show_list(byhand.api_client(kubeconfig), namespace, Console())


@get.command(name="canary")
@click.argument("name")
@click.option("--watch", "-w", "follow", is_flag=True, help="Redraw on every change of the Canary.")
@click.option(
    "--timeout", default=0.0, show_default=True, help="With --watch: stop after N seconds (0: never)."
)
@_NAMESPACE
@_KUBECONFIG
def get_canary(*, name: str, follow: bool, timeout: float, namespace: str, kubeconfig: str | None) -> None:
    """Canary NAME's run: steps and weight, each metric of the last check with its evidence, the
    webhooks, the Git write, the revisions, conditions, the last request by hand, the latest events."""
    from rich.console import Console  # noqa: PLC0415

    from canary.operator import byhand, view, watching  # noqa: PLC0415

    try:
        view.show_one(
            byhand.api_client(kubeconfig), namespace, name, follow=follow, timeout=timeout, console=Console()
        )
    except watching.NotFound as e:
        raise click.ClickException(str(e)) from None


@main.command()
@click.argument("name")
@_NAMESPACE
@_KUBECONFIG
@_AS
@_WAIT
def undo(*, name: str, namespace: str, kubeconfig: str | None, by: str | None, timeout: float) -> None:
    """Put Canary NAME's target back to the last promoted revision.

    The controller rolls back a running rollout and restores the target's pod template as it was
    promoted (recorded on the primary); ConfigMap and Secret contents are not restored.  With
    spec.gitops, Git is changed instead: the Canary's path is restored as at
    status.gitops.promotedRevision (as `canary release --revision` does), and the agent applies it.
    """
    from canary.operator import byhand  # noqa: PLC0415

    api = byhand.api_client(kubeconfig)
    try:
        promoted = byhand.gitops_promoted_revision(api, namespace, name)
        if promoted is None:
            _ask("undo", name, namespace=namespace, kubeconfig=kubeconfig, by=by, timeout=timeout, full=False)
            return
        _report(byhand.release(api, byhand.Asked(namespace, name, None, by), promoted))
    except byhand.Refused as e:
        raise click.ClickException(str(e)) from None


@main.group(name="set")
def set_() -> None:
    """Change Canary NAME's target by asking the controller."""


@set_.command(name="image")
@click.argument("name")
@click.argument("images", nargs=-1, required=True, metavar="CONTAINER=IMAGE...")
@_NAMESPACE
@_KUBECONFIG
@_AS
@_WAIT
def set_image(
    *,
    name: str,
    images: tuple[str, ...],
    namespace: str,
    kubeconfig: str | None,
    by: str | None,
    timeout: float,
) -> None:
    """Give containers of Canary NAME's target new images; the new revision then rolls out.

    Refused with spec.gitops (commit the image to Git instead: the agent would undo the edit) and
    during a promotion.
    """
    pairs = []
    for item in images:
        container, sep, image = item.partition("=")
        if not sep or not container or not image:
            raise click.UsageError(f"{item!r}: expected CONTAINER=IMAGE")
        pairs.append((container, image))
    _ask(
        "set-image",
        name,
        namespace=namespace,
        kubeconfig=kubeconfig,
        by=by,
        timeout=timeout,
        full=False,
        images=tuple(sorted(pairs)),
    )


@main.command()
@click.argument("name")
@click.option("--revision", required=True, help="A commit of the config repository.")
@click.option("--env", default=None, help="The environment to release into; default Canary NAME's own.")
@_NAMESPACE
@_KUBECONFIG
@_AS
def release(
    *, name: str, revision: str, env: str | None, namespace: str, kubeconfig: str | None, by: str | None
) -> None:
    """Release an environment's files as they were at --revision, in Git.

    The environment's path (of Canary NAME's chain; default its own) becomes what it was at the
    commit, any file type, in one commit (or pull request) with the trailers and a Canary-By trailer
    naming you: a re-release of a known state, forward or back.  The agent applies it and the
    environment's Canary analyses it like any release.
    """
    from canary.operator import byhand  # noqa: PLC0415

    try:
        asked = byhand.Asked(namespace, name, env, by)
        _report(byhand.release(byhand.api_client(kubeconfig), asked, revision))
    except byhand.Refused as e:
        raise click.ClickException(str(e)) from None
