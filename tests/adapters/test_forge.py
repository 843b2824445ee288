"""Pull and merge requests through the GitHub and GitLab REST endpoints, against a forge on 127.0.0.1
that checks the payloads and the auth headers: opened once (an open one for the branch is found, not
duplicated, also when the creation races), errors that name the forge and status but never the token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from canary.adapters.gitops.forge import (
    ForgeError,
    GitHubForge,
    GitLabForge,
    commit_url,
    forge_for,
    project_of,
)
from controlplane.forge import FakeForge

TOKEN = "ghp_s3cret-token-value"


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    f = FakeForge(TOKEN).start()
    yield f
    f.stop()


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_opens_once_then_finds_the_open_one(forge: FakeForge, kind: str) -> None:
    api = forge.url if kind == "github" else f"{forge.url}/api/v4"
    client = forge_for(kind, api, "http://127.0.0.1:1/acme/config.git", TOKEN)
    first = client.open_pull_request(head="canary/rollback/web", base="main", title="Roll back", body="why")
    assert first.created
    assert first.number == 1
    again = client.open_pull_request(head="canary/rollback/web", base="main", title="Roll back", body="why")
    assert (again.url, again.number, again.created) == (first.url, 1, False)
    assert len(forge.pulls) == 1
    pull = forge.pulls[0]
    assert (pull["project"], pull["head"], pull["base"], pull["title"], pull["body"]) == (
        "acme/config",
        "canary/rollback/web",
        "main",
        "Roll back",
        "why",
    )
    assert sum(1 for method, _ in forge.requests if method == "POST") == 1


def test_gitlab_project_paths_are_url_encoded(forge: FakeForge) -> None:
    client = GitLabForge(f"{forge.url}/api/v4", "group/sub/config", TOKEN)
    pr = client.open_pull_request(head="b", base="main", title="t", body="")
    assert pr.created
    assert any("group%2Fsub%2Fconfig" in path for _, path in forge.requests)


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_wrong_token_fails_without_showing_it(forge: FakeForge, kind: str) -> None:
    api = forge.url if kind == "github" else f"{forge.url}/api/v4"
    client = forge_for(kind, api, "https://x/acme/config.git", "wrong-" + TOKEN)
    with pytest.raises(ForgeError) as e:
        client.open_pull_request(head="b", base="main", title="t", body="")
    assert "401" in str(e.value)
    assert ("GitHub" if kind == "github" else "GitLab") in str(e.value)
    assert TOKEN not in str(e.value)


def test_an_unreachable_forge_is_a_forge_error() -> None:
    client = GitHubForge("http://127.0.0.1:9", "acme/config", TOKEN, timeout=2)
    with pytest.raises(ForgeError, match="GitHub"):
        client.open_pull_request(head="b", base="main", title="t", body="")


def test_a_server_error_is_reported_with_an_excerpt() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=[])
        return httpx.Response(502, text="bad gateway " * 100)

    client = GitHubForge("https://api.example", "acme/config", TOKEN, transport=httpx.MockTransport(answer))
    with pytest.raises(ForgeError) as e:
        client.open_pull_request(head="b", base="main", title="t", body="")
    assert "502" in str(e.value)
    assert len(str(e.value)) < 500


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (
            422,
            {
                "message": "Validation Failed",
                "errors": [{"message": "A pull request already exists for a:b."}],
            },
        ),
        (409, {"message": ["Another open merge request already exists for this source branch: !3"]}),
    ],
)
def test_a_creation_race_returns_the_pull_request_that_won(status: int, payload: object) -> None:
    """Listed empty, then the creation says "already exists": list again and return that one."""
    listed = iter(
        [[], [{"number": 3, "iid": 3, "html_url": "https://f/pull/3", "web_url": "https://f/mr/3"}]]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=next(listed))
        return httpx.Response(status, json=payload)

    kind = "github" if status == 422 else "gitlab"
    client = forge_for(
        kind, "https://api.example", "https://x/a/b.git", TOKEN, transport=httpx.MockTransport(answer)
    )
    pr = client.open_pull_request(head="b", base="main", title="t", body="")
    assert (pr.number, pr.created) == (3, False)


@pytest.mark.parametrize(
    ("url", "project"),
    [
        ("https://github.com/acme/config.git", "acme/config"),
        ("git@github.com:acme/config.git", "acme/config"),
        ("ssh://git@gitlab.example:2222/group/sub/config.git", "group/sub/config"),
        ("http://127.0.0.1:8080/acme/config.git", "acme/config"),
    ],
)
def test_the_project_comes_from_the_clone_url(url: str, project: str) -> None:
    assert project_of(url) == project


def test_an_unknown_forge_or_project_is_named() -> None:
    with pytest.raises(ForgeError, match="github or gitlab"):
        forge_for("bitbucket", None, "https://x/a/b.git", TOKEN)
    with pytest.raises(ForgeError, match=r"forge\.project"):
        forge_for("github", None, "/srv/git/config.git", TOKEN)


@pytest.mark.parametrize(
    ("kind", "api", "url", "project", "page"),
    [
        (
            "github",
            None,
            "https://github.com/acme/config.git",
            None,
            "https://github.com/acme/config/commit/abc",
        ),
        (
            "github",
            "https://ghe.acme/api/v3",
            "git@ghe.acme:acme/config.git",
            None,
            "https://ghe.acme/acme/config/commit/abc",
        ),
        (
            "gitlab",
            None,
            "https://gitlab.com/acme/apps/config.git",
            None,
            "https://gitlab.com/acme/apps/config/-/commit/abc",
        ),
        (
            "gitlab",
            "https://git.acme/api/v4",
            "http://127.0.0.1/config.git",
            "ops/config",
            "https://git.acme/ops/config/-/commit/abc",
        ),
        ("github", None, "http://127.0.0.1/config.git", None, None),  # no project to tell
    ],
)
def test_the_commit_page_comes_from_the_forge_settings(
    kind: str, api: str | None, url: str, project: str | None, page: str | None
) -> None:
    assert commit_url(kind, api, url, "abc", project) == page
