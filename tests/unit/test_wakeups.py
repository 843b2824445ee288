"""Wake-ups: a change to an object a canary read wakes it, and a change that lands while its tick
runs (before the tick has said what it read) is not lost."""

from __future__ import annotations

import asyncio

from canary.adapters.kube.cache import CONFIGMAPS, DEPLOYMENTS, SERVICES
from canary.operator.handlers import Wakeups


def deployment(name: str) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "ns"}}


def test_a_change_wakes_only_the_canaries_that_read_it() -> None:
    async def scenario() -> None:
        w = Wakeups()
        w.loop = asyncio.get_running_loop()
        a, b = w.get("ns", "a"), w.get("ns", "b")
        w.watch("ns", "a", frozenset({"deployment/web", "configmap/cfg"}))
        w.watch("ns", "b", frozenset({"deployment/api"}))
        w.changed(DEPLOYMENTS, "MODIFIED", deployment("web"))
        w.changed(SERVICES, "MODIFIED", deployment("api"))  # Services wake nobody
        await asyncio.sleep(0)
        assert a.is_set()
        assert not b.is_set()
        a.clear()
        w.changed(CONFIGMAPS, "MODIFIED", deployment("cfg"))
        await asyncio.sleep(0)
        assert a.is_set()
        a.clear()
        w.watch("ns", "a", frozenset({"deployment/web"}))  # no longer reads cfg
        w.changed(CONFIGMAPS, "MODIFIED", deployment("cfg"))
        await asyncio.sleep(0)
        assert not a.is_set()

    asyncio.run(scenario())


def test_a_change_during_the_tick_is_reported() -> None:
    w = Wakeups()
    since = w.sequence
    # The tick is running: its primary changes before the tick registers what it read.
    w.changed(DEPLOYMENTS, "MODIFIED", deployment("web-primary"))
    assert w.watch("ns", "c", frozenset({"deployment/web", "deployment/web-primary"}), since=since)
    # The next tick starts after that change: nothing missed.
    since = w.sequence
    assert not w.watch("ns", "c", frozenset({"deployment/web", "deployment/web-primary"}), since=since)
    # A change to something else is not its business.
    w.changed(DEPLOYMENTS, "MODIFIED", deployment("other"))
    assert not w.watch("ns", "c", frozenset({"deployment/web"}), since=since)


def test_a_new_canary_spec_wakes_it_but_a_status_change_does_not() -> None:
    from canary.adapters.kube.cache import CANARIES  # noqa: PLC0415

    async def scenario() -> None:
        w = Wakeups()
        w.loop = asyncio.get_running_loop()
        event = w.get("ns", "web")

        def canary(generation: int, rv: str) -> dict[str, object]:
            return {
                "metadata": {
                    "name": "web",
                    "namespace": "ns",
                    "generation": generation,
                    "resourceVersion": rv,
                }
            }

        w.changed(CANARIES, "ADDED", canary(1, "1"))
        w.changed(CANARIES, "MODIFIED", canary(1, "2"))  # our own status patch
        await asyncio.sleep(0)
        assert not event.is_set()
        w.changed(CANARIES, "MODIFIED", canary(2, "3"))  # someone edited the spec
        await asyncio.sleep(0)
        assert event.is_set()

    asyncio.run(scenario())
