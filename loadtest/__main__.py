"""``python -m loadtest``: the load tester service.

Gate state (``--state``): ``configmap:NAMESPACE/NAME`` (shared by every replica; the default in a
Pod, in its own namespace: ``configmap:$POD_NAMESPACE/canary-loadtest-gates``), ``file:PATH`` (the
default outside a cluster: ``$XDG_STATE_HOME/canary-loadtest/gates.json``), or ``memory`` (lost on
restart, as in Flagger; only on purpose).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from loadtest import __version__
from loadtest.server import App, Auth, Metrics, serve
from loadtest.state import ConfigMapStore, FileStore, MemoryStore, Store
from loadtest.tasks import Policy, Tasks, parse_duration

log = logging.getLogger("loadtest")


def default_state() -> str:
    namespace = os.environ.get("POD_NAMESPACE")
    if namespace and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return f"configmap:{namespace}/canary-loadtest-gates"
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return f"file:{base / 'canary-loadtest' / 'gates.json'}"


def open_store(spec: str, kubeconfig: str | None) -> Store:
    kind, _, where = spec.partition(":")
    if kind == "memory" and not where:
        return MemoryStore()
    if kind == "file" and where:
        return FileStore(Path(where))
    if kind == "configmap" and re.fullmatch(r"[a-z0-9-]+/[a-z0-9.-]+", where):
        from kubernetes import client, config  # noqa: PLC0415 - only this store needs the client

        loader: Any = config
        configuration = client.Configuration()
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not kubeconfig:
            loader.load_incluster_config(client_configuration=configuration)
        else:
            loader.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        namespace, name = where.split("/", 1)
        return ConfigMapStore(client.CoreV1Api(client.ApiClient(configuration)), namespace, name)
    raise SystemExit(f"--state {spec!r}: use configmap:NAMESPACE/NAME, file:PATH or memory")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest", description="canary's load tester service")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--state", default=None, help="configmap:NS/NAME, file:PATH or memory (see --help above)")
    p.add_argument(
        "--kubeconfig", default=os.environ.get("KUBECONFIG"), help="for configmap state outside a Pod"
    )
    p.add_argument(
        "--tokens-file", type=Path, help="bearer tokens and their namespaces: 'TOKEN ns1,ns2' lines"
    )
    p.add_argument("--namespace-regexp", help="only payloads whose namespace fully matches (Flagger's flag)")
    p.add_argument(
        "--allow-cmd", action="append", default=[], metavar="PROGRAM", help="a program cmd tasks may run"
    )
    p.add_argument(
        "--enable-bash", action="store_true", help="allow bash tasks (a shell: trusted callers only)"
    )
    p.add_argument("--allow-kubectl", action="store_true", help="allow kubectl tasks")
    p.add_argument("--allow-helm", action="store_true", help="allow helm tasks")
    p.add_argument("--timeout", default="1h", help="longest a program may run (default 1h)")
    p.add_argument("--max-body", type=int, default=65536, help="largest request body in bytes")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--version", action="version", version=f"canary loadtest {__version__}")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpcore"):  # request lines carry URLs, which may carry credentials
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        auth = (
            Auth.from_file(args.tokens_file, args.namespace_regexp)
            if args.tokens_file
            else Auth({}, re.compile(args.namespace_regexp) if args.namespace_regexp else None)
        )
    except (OSError, ValueError, re.error) as e:
        raise SystemExit(f"--tokens-file / --namespace-regexp: {e}") from None
    state = args.state or default_state()
    policy = Policy(
        allowed=frozenset(args.allow_cmd),
        bash=args.enable_bash,
        kubectl=args.allow_kubectl,
        helm=args.allow_helm,
        timeout=parse_duration(args.timeout),
    )
    metrics = Metrics()
    app = App(
        open_store(state, args.kubeconfig),
        Tasks(policy, observe_load=metrics.observe_load),
        auth,
        metrics,
        max_body=args.max_body,
    )
    server = serve(app, args.host, args.port)
    log.info(
        "canary loadtest %s on %s:%d; state %s; authentication %s; cmd programs: %s%s",
        __version__,
        args.host,
        server.server_address[1],
        state,
        "on" if auth.tokens else "off",
        ", ".join(sorted(policy.allowed)) or "none",
        "; bash ENABLED" if policy.bash else "",
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
