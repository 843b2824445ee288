"""A git remote on 127.0.0.1 over smart HTTP, served by git's own ``git http-backend``.

Who uses this: the ``git_server`` / ``git_remote`` fixtures in ``tests/conftest.py`` (the GitOps
tests) and the demo (``python -m demo``), which serves its config repository to Flux with it.
Why smart HTTP rather than ``git daemon``: it is the protocol hosted
forges speak, and it carries HTTP basic auth, so tests of credentials taken from a Kubernetes Secret
exercise the real authentication path.  Pushes are enabled for the authenticated user (or for
everyone when the server runs without credentials, via ``http.receivepack``).

The server is a threaded ``http.server`` that runs ``git http-backend`` as a CGI program per request.
It decodes chunked request bodies itself (git sends large pushes chunked) and passes
``Content-Encoding: gzip`` through, which http-backend inflates.
"""

from __future__ import annotations

import base64
import hmac
import os
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

MAX_BODY = 256 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root: ClassVar[Path]
    credentials: ClassVar[tuple[str, str] | None]
    backend: ClassVar[str]
    git_server: ClassVar[GitHTTPServer]

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: pytest shows failures, not every request

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _authorized(self) -> bool:
        if self.credentials is None:
            return True
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        want_user, want_password = self.credentials
        return hmac.compare_digest(user, want_user) and hmac.compare_digest(password, want_password)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _reply(self, code: int, message: str, extra: dict[str, str] | None = None) -> None:
        body = message.encode()
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _cgi(self) -> None:
        if not self._authorized():
            self._reply(401, "authentication required\n", {"WWW-Authenticate": 'Basic realm="canary-tests"'})
            return
        try:
            body = self._read_body()
        except ValueError as e:
            self._reply(413, f"{e}\n")
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        if self.credentials is not None:
            env["REMOTE_USER"] = self.credentials[0]
        proc = subprocess.run(
            [self.backend, "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, sep, payload = proc.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = proc.stdout.partition(b"\n\n")
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        if proc.returncode != 0 and not sep:
            self._reply(500, proc.stderr.decode(errors="replace"))
            return
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        hook = self.git_server.on_push
        pushed = self.command == "POST" and path.endswith("/git-receive-pack") and status == 200
        if hook is not None and pushed:
            self.wfile.flush()  # the pusher has its answer before the hook runs
            hook(self.root / path.strip("/").rsplit("/", 1)[0])


class GitHTTPServer:
    """Serves every bare repository under ``root`` at ``http://127.0.0.1:<port>/<name>.git``."""

    def __init__(self, root: Path, credentials: tuple[str, str] | None = None) -> None:
        self.root = root
        self.credentials = credentials
        #: called with the bare repository's path after each push it accepted (the pusher already has
        #: its answer), for tests that act at that moment (say, kill the process that pushed)
        self.on_push: Callable[[Path], None] | None = None
        handler = type(
            "Handler",
            (_Handler,),
            {"root": root, "credentials": credentials, "backend": "git", "git_server": self},
        )
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="git-http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def create_repo(self, name: str, branch: str = "main") -> str:
        """Create an empty bare repository and return its clone URL."""
        path = self.root / f"{name}.git"
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(path)], check=True
        )
        # http-backend allows pushes only to an authenticated user (REMOTE_USER) unless http.receivepack
        # says otherwise; an unauthenticated test server has to opt in explicitly.
        if self.credentials is None:
            subprocess.run(["git", "-C", str(path), "config", "http.receivepack", "true"], check=True)
        return f"{self.url}/{name}.git"


# ------------------------------------------------------------------------------------- people
ENV = {
    "GIT_AUTHOR_NAME": "CI",
    "GIT_AUTHOR_EMAIL": "ci@example.invalid",
    "GIT_COMMITTER_NAME": "CI",
    "GIT_COMMITTER_EMAIL": "ci@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=True).stdout


class Person:
    """Someone working on a config repository with plain git (CI, a colleague): a clone of ``url``."""

    def __init__(self, url: str, where: Path) -> None:
        self.dir = where
        subprocess.run(["git", "clone", "--quiet", url, str(where)], env=ENV, check=True, capture_output=True)

    def commit(self, path: str, text: str, message: str) -> str:
        return self.change({path: text}, message)

    def change(self, files: dict[str, str], message: str, attempts: int = 5) -> str:
        """Commit ``files`` (path -> text) on top of the remote's main and push; the new commit.  A
        push that loses a race (the controller pushed meanwhile) is redone on the new tip, as a CI
        job would, never rebased: the clone is never left half-way."""
        for _ in range(attempts):
            self.pull()
            for path, text in files.items():
                (self.dir / path).parent.mkdir(parents=True, exist_ok=True)
                (self.dir / path).write_text(text)
                git(self.dir, "add", path)
            git(self.dir, "commit", "--quiet", "-m", message)
            pushed = subprocess.run(
                ["git", "push", "--quiet", "origin", "HEAD:main"],
                cwd=self.dir,
                env=ENV,
                capture_output=True,
                check=False,
            )
            if pushed.returncode == 0:
                return git(self.dir, "rev-parse", "HEAD").strip()
            self.sync()
        raise RuntimeError(f"{message!r} lost the race to push {attempts} times")

    def pull(self) -> None:
        if git(self.dir, "ls-remote", "--heads", "origin", "main").strip():  # not the first commit
            git(self.dir, "pull", "--quiet", "--rebase", "origin", "main")

    def sync(self) -> str:
        """Make the clone equal to the remote's main, dropping any work of its own (a commit whose
        push lost a race, a rebase stopped on a conflict); its HEAD."""
        git(self.dir, "fetch", "--quiet", "origin", "main")
        git(self.dir, "reset", "--quiet", "--hard", "origin/main")
        git(self.dir, "clean", "--quiet", "-fdx")
        return git(self.dir, "rev-parse", "HEAD").strip()

    def read(self, path: str) -> str:
        self.pull()
        return (self.dir / path).read_text()

    def log(self, *args: str) -> list[str]:
        """``git log --format=%H %s`` of main on the remote, newest first."""
        self.pull()
        return git(self.dir, "log", "--format=%H %s", *args).splitlines()
