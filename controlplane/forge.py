"""A forge on 127.0.0.1 that implements the few REST endpoints the controller uses, with the payloads
GitHub's and GitLab's API documentation specify:

* GitHub ``GET/POST /repos/{owner}/{repo}/pulls`` (list filtered by ``head=owner:branch``, ``base``,
  ``state``; create with ``title``, ``head``, ``base``, ``body``; 201 with ``number`` and ``html_url``;
  422 "Validation Failed" when the head branch does not exist or a pull request for it is open);
* GitLab ``GET/POST /api/v4/projects/{url-encoded path}/merge_requests`` (list filtered by
  ``source_branch``, ``target_branch``, ``state=opened``; create with ``source_branch``,
  ``target_branch``, ``title``, ``description``; 201 with ``iid`` and ``web_url``; 409 when one is
  open for the branch).

Auth as each forge does it (``Authorization: Bearer`` / ``PRIVATE-TOKEN``), 401 otherwise.  With
``git_dir`` (a bare repository), the head branch must really exist there.  ``pulls`` records what was
opened, so tests assert on it.
"""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class FakeForge:
    def __init__(self, token: str, git_dir: Path | None = None) -> None:
        self.token, self.git_dir = token, git_dir
        self.pulls: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        #: when set, every request answers this status (a failing forge)
        self.failing: int | None = None
        self.lock = threading.Lock()
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                forge.handle(self, "GET")

            def do_POST(self) -> None:
                forge.handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> FakeForge:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------------------ handling
    def _branch_exists(self, branch: str) -> bool:
        if self.git_dir is None:
            return True
        done = subprocess.run(
            [
                "git",
                "--git-dir",
                str(self.git_dir),
                "rev-parse",
                "--verify",
                "--quiet",
                f"refs/heads/{branch}",
            ],
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, h.path))
            failing = self.failing
        if failing is not None:  # a forge having a bad day: every request answers this status
            return self._reply(h, failing, {"message": "Server Error"})
        body: Any = None
        if method == "POST":
            raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                return self._reply(h, 400, {"message": "Problems parsing JSON"})
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if len(segments) == 4 and segments[0] == "repos" and segments[3] == "pulls":
            if h.headers.get("Authorization") != f"Bearer {self.token}":
                return self._reply(h, 401, {"message": "Bad credentials"})
            return self._github(h, method, f"{segments[1]}/{segments[2]}", query, body)
        if (
            len(segments) == 5
            and segments[:3] == ["api", "v4", "projects"]
            and segments[4] == "merge_requests"
        ):
            if h.headers.get("PRIVATE-TOKEN") != self.token:
                return self._reply(h, 401, {"message": "401 Unauthorized"})
            return self._gitlab(h, method, segments[3], query, body)
        return self._reply(h, 404, {"message": "Not Found"})

    def _open(self, kind: str, project: str, head: str, base: str) -> dict[str, Any] | None:
        return next(
            (
                p
                for p in self.pulls
                if (p["kind"], p["project"], p["head"], p["base"], p["state"])
                == (kind, project, head, base, "open")
            ),
            None,
        )

    def _github(
        self, h: BaseHTTPRequestHandler, method: str, repo: str, q: dict[str, str], body: Any
    ) -> None:
        owner = repo.split("/", maxsplit=1)[0]
        if method == "GET":
            head = q.get("head", "")
            found = [
                {"number": p["number"], "html_url": p["url"], "state": "open"}
                for p in self.pulls
                if p["kind"] == "github"
                and p["project"] == repo
                and p["state"] == "open"
                and (not head or f"{owner}:{p['head']}" == head)
                and p["base"] == q.get("base", p["base"])
            ]
            return self._reply(h, 200, found)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("title", "head", "base")
        ):
            return self._reply(
                h, 422, {"message": "Validation Failed", "errors": [{"code": "missing_field"}]}
            )
        if not isinstance(body.get("body", ""), str):
            return self._reply(h, 422, {"message": "Validation Failed", "errors": [{"code": "invalid"}]})
        if not self._branch_exists(body["head"]):
            errors = [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
            return self._reply(h, 422, {"message": "Validation Failed", "errors": errors})
        with self.lock:
            if self._open("github", repo, body["head"], body["base"]) is not None:
                message = f"A pull request already exists for {owner}:{body['head']}."
                errors = [{"resource": "PullRequest", "code": "custom", "message": message}]
                return self._reply(h, 422, {"message": "Validation Failed", "errors": errors})
            pull = self._record(
                "github",
                repo,
                head=body["head"],
                base=body["base"],
                title=body["title"],
                body=body.get("body", ""),
            )
        return self._reply(h, 201, {"number": pull["number"], "html_url": pull["url"], "state": "open"})

    def _gitlab(
        self, h: BaseHTTPRequestHandler, method: str, project: str, q: dict[str, str], body: Any
    ) -> None:
        if method == "GET":
            found = [
                {"iid": p["number"], "web_url": p["url"], "state": "opened"}
                for p in self.pulls
                if p["kind"] == "gitlab"
                and p["project"] == project
                and p["state"] == "open"
                and p["head"] == q.get("source_branch", p["head"])
                and p["base"] == q.get("target_branch", p["base"])
            ]
            return self._reply(h, 200, found)
        required = ("source_branch", "target_branch", "title")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in required):
            return self._reply(h, 400, {"error": "source_branch, target_branch, title are missing"})
        if not self._branch_exists(body["source_branch"]):
            return self._reply(h, 400, {"message": ["Source branch does not exist"]})
        with self.lock:
            existing = self._open("gitlab", project, body["source_branch"], body["target_branch"])
            if existing is not None:
                message = (
                    f"Another open merge request already exists for this source branch: !{existing['number']}"
                )
                return self._reply(h, 409, {"message": [message]})
            pull = self._record(
                "gitlab",
                project,
                head=body["source_branch"],
                base=body["target_branch"],
                title=body["title"],
                body=body.get("description", ""),
            )
        return self._reply(h, 201, {"iid": pull["number"], "web_url": pull["url"], "state": "opened"})

    def _record(
        self, kind: str, project: str, *, head: str, base: str, title: str, body: str
    ) -> dict[str, Any]:
        number = 1 + sum(1 for p in self.pulls if p["project"] == project)
        path = "pull" if kind == "github" else "-/merge_requests"
        pull = {
            "kind": kind,
            "project": project,
            "number": number,
            "head": head,
            "base": base,
            "title": title,
            "body": body,
            "state": "open",
            "url": f"{self.url}/{project}/{path}/{number}",
        }
        self.pulls.append(pull)
        return pull

    def _reply(self, h: BaseHTTPRequestHandler, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
