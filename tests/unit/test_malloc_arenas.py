"""The controller limits glibc's malloc arenas at start (docs/performance.md, "Memory at start"),
unless whoever runs it set $MALLOC_ARENA_MAX."""

from __future__ import annotations

import sys

import pytest

from canary.operator.main import limit_malloc_arenas


def test_an_operator_set_arena_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_limit_is_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas() is True
