"""Pull requests (GitHub) and merge requests (GitLab) through the forges' REST APIs.

Who calls this: the GitOps writer, for ``onRollback: pullRequest``, ``promote.mode: pullRequest`` and a
revert that conflicts.  What it owns: the two or three requests each forge needs, exactly once: an open
pull request for the same head branch is found and returned rather than duplicated (the controller may
have opened it before a restart), including when the forge answers a creation with "already exists".

Why httpx with no retries: the writer keeps the write pending and tries again at the next analysis
interval, so a retry loop here would only hold a tick.  The token travels in a header only; errors name
the forge, the HTTP status and an excerpt of the answer, never the token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from canary import __version__

EXCERPT = 300
DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}


class ForgeError(Exception):
    """The forge could not be reached or refused the request; the message never holds the token."""


@dataclass(frozen=True)
class PullRequest:
    url: str
    number: int
    #: False when an open one for the same head branch already existed
    created: bool


class Forge(Protocol):
    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest: ...

    def close(self) -> None: ...


def project_of(repository_url: str) -> str:
    """``owner/name`` (or ``group/sub/name``) of a clone URL: https, ssh, scp-like or local HTTP."""
    url = repository_url.strip()
    m = re.match(r"^[^@/:]+@[^:/]+:(?P<path>.+)$", url)  # git@host:owner/name.git
    if m is None:
        m = re.match(r"^[a-z+]+://[^/]+/(?P<path>.+)$", url)
    if m is None:
        raise ValueError(f"cannot tell the project of {url!r}; set spec.gitops.forge.project")
    path = m.group("path").strip("/").removesuffix(".git")
    if "/" not in path:
        raise ValueError(f"cannot tell the project of {url!r}; set spec.gitops.forge.project")
    return path


def commit_url(
    kind: str, api_url: str | None, repository_url: str, commit: str, project: str | None = None
) -> str | None:
    """The web page of ``commit`` on the forge (what a person opens from a notification): the web
    host is the API's (api.github.com is github.com; an Enterprise or self-hosted API's /api/v3 or
    /api/v4 is dropped).  None when the project cannot be told."""
    if kind not in DEFAULT_API:
        return None
    api = (api_url or DEFAULT_API[kind]).rstrip("/")
    web = re.sub(r"/api/v[34]$", "", api).replace("://api.github.com", "://github.com")
    try:
        name = project or project_of(repository_url)
    except ValueError:
        return None
    return f"{web}/{name}/commit/{commit}" if kind == "github" else f"{web}/{name}/-/commit/{commit}"


class _Client:
    name = "forge"

    def __init__(
        self, api_url: str, token: str, transport: httpx.BaseTransport | None, timeout: float
    ) -> None:
        self.api = api_url.rstrip("/")
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"canary/{__version__}", **self._auth(token)},
        )

    def _auth(self, token: str) -> dict[str, str]:
        raise NotImplementedError

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return self._http.request(method, f"{self.api}{path}", **kw)
        except httpx.HTTPError as e:
            raise ForgeError(f"{self.name}: {method} {path} failed: {type(e).__name__}: {e}") from None

    def _error(self, what: str, r: httpx.Response) -> ForgeError:
        return ForgeError(f"{self.name}: {what} answered {r.status_code}: {r.text[:EXCERPT]}")


class GitHubForge(_Client):
    name = "GitHub"

    def __init__(
        self,
        api_url: str,
        repository: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15,
    ) -> None:
        super().__init__(api_url, token, transport, timeout)
        self.repository = repository
        self.owner = repository.split("/", 1)[0]

    def _auth(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def _existing(self, head: str, base: str) -> PullRequest | None:
        path = f"/repos/{self.repository}/pulls"
        r = self._request("GET", path, params={"head": f"{self.owner}:{head}", "base": base, "state": "open"})
        if r.status_code != 200:
            raise self._error(f"listing pull requests of {self.repository}", r)
        pulls = r.json()
        if not pulls:
            return None
        return PullRequest(pulls[0]["html_url"], int(pulls[0]["number"]), created=False)

    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        found = self._existing(head, base)
        if found is not None:
            return found
        payload = {"title": title, "head": head, "base": base, "body": body}
        r = self._request("POST", f"/repos/{self.repository}/pulls", json=payload)
        if r.status_code == 201:
            data = r.json()
            return PullRequest(data["html_url"], int(data["number"]), created=True)
        if r.status_code == 422 and "already exists" in r.text:
            found = self._existing(head, base)  # opened concurrently (or by us before a restart)
            if found is not None:
                return found
        raise self._error(f"opening a pull request on {self.repository}", r)


class GitLabForge(_Client):
    name = "GitLab"

    def __init__(
        self,
        api_url: str,
        project: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15,
    ) -> None:
        super().__init__(api_url, token, transport, timeout)
        self.project = project
        self.path = f"/projects/{quote(project, safe='')}/merge_requests"

    def _auth(self, token: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": token}

    def _existing(self, head: str, base: str) -> PullRequest | None:
        params = {"source_branch": head, "target_branch": base, "state": "opened"}
        r = self._request("GET", self.path, params=params)
        if r.status_code != 200:
            raise self._error(f"listing merge requests of {self.project}", r)
        found = r.json()
        if not found:
            return None
        return PullRequest(found[0]["web_url"], int(found[0]["iid"]), created=False)

    def open_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        found = self._existing(head, base)
        if found is not None:
            return found
        payload = {
            "source_branch": head,
            "target_branch": base,
            "title": title,
            "description": body,
            "remove_source_branch": True,
        }
        r = self._request("POST", self.path, json=payload)
        if r.status_code == 201:
            data = r.json()
            return PullRequest(data["web_url"], int(data["iid"]), created=True)
        if r.status_code == 409:
            found = self._existing(head, base)
            if found is not None:
                return found
        raise self._error(f"opening a merge request on {self.project}", r)


def forge_for(
    kind: str,
    api_url: str | None,
    repository_url: str,
    token: str,
    *,
    project: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 15.0,
) -> Forge:
    """A client for ``kind`` (github or gitlab); the project defaults to the repository URL's path."""
    if kind not in DEFAULT_API:
        raise ForgeError(f"unknown forge {kind!r}: use github or gitlab")
    api = api_url or DEFAULT_API[kind]
    try:
        name = project or project_of(repository_url)
    except ValueError as e:
        raise ForgeError(str(e)) from None
    if kind == "github":
        return GitHubForge(api, name, token, transport=transport, timeout=timeout)
    return GitLabForge(api, name, token, transport=transport, timeout=timeout)
