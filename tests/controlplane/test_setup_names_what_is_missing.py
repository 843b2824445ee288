"""When Go, the Go module proxy or a Debian package is unavailable, the set-up steps of ``make test``
fail with a message naming what is missing, instead of skipping anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "controlplane" / script)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def bin_dir_with(tmp_path: Path, *tools: str) -> Path:
    """A PATH directory holding only the named tools (symlinks to the real ones)."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for tool in tools:
        # python3 may be a pyenv shim that needs pyenv on PATH: link the interpreter itself.
        real = os.path.realpath(sys.executable) if tool == "python3" else shutil.which(tool)
        assert real is not None, tool
        (d / tool).symlink_to(real)
    return d


def test_build_without_go_names_go(tmp_path: Path) -> None:
    path = bin_dir_with(tmp_path, "bash", "sed", "sort", "head", "dirname", "mktemp", "rm")
    result = run(
        "build.sh", {"PATH": str(path), "HOME": str(tmp_path), "CANARY_CACHE": str(tmp_path / "cache")}
    )
    assert result.returncode == 1
    assert "Go is not installed" in result.stderr


def test_build_with_an_unreachable_module_proxy_names_the_proxy(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CANARY_CACHE": str(tmp_path / "cache"),  # nothing built here: the build must start
        "GOMODCACHE": str(tmp_path / "gomod"),  # nothing downloaded either
        "GOPROXY": "off",
    }
    result = run("build.sh", env)
    assert result.returncode == 1
    assert "cannot download k8s.io/kubernetes@" in result.stderr
    assert "Go module proxy" in result.stderr
    subprocess.run(["chmod", "-R", "u+w", str(tmp_path / "gomod")], check=False)


def test_deps_names_missing_debian_packages_when_it_cannot_install(tmp_path: Path) -> None:
    # Everything deps.sh looks for except prometheus, and an `id` that says we are not root.
    tools = ("bash", "dirname", "git", "redis-server", "openssl", "make", "ip", "unshare", "go", "python3")
    path = bin_dir_with(tmp_path, *tools)
    (path / "id").write_text("#!/bin/sh\necho 1000\n")
    (path / "id").chmod(0o755)
    result = run("deps.sh", {"PATH": str(path), "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "missing system packages: prometheus (install them with apt-get as root" in result.stderr
