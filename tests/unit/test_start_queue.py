"""The start queue: a class logging in at once waits its turn, in order, each student told her
place in her language, instead of getting the hub's 429 page. Spawns are fakes here (no hub,
no server); tests/test_spawn_queue.py starts real servers."""

from __future__ import annotations

import asyncio
import inspect
from types import SimpleNamespace

import pytest
from jupyterhub.spawner import LocalProcessSpawner, SpawnException
from jupyterhub.user import User

from sabaq.hub.jupyterhub import spawner as spawner_module
from sabaq.hub.jupyterhub.spawner import QUEUE_LEFT, QUEUE_PLACE, QUEUE_TURN, SabaqSpawner
from sabaq.hub.jupyterhub.startqueue import StartQueue
from sabaq.settings import Settings


def run(coro, timeout: float = 30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def until(check, timeout: float = 10):
    """Wait for the spawners' own work (their language is read in a thread) to reach a state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "not reached in time"
        await asyncio.sleep(0.01)


# --- the queue itself ---------------------------------------------------------------------


def test_starts_take_their_turns_in_the_order_they_came():
    async def scenario():
        queue = StartQueue(slots=1)
        order = []

        async def start(name):
            await queue.turn(name)
            order.append(name)

        tasks = [asyncio.create_task(start(n)) for n in "abcd"]
        await settle()
        assert order == ["a"] and queue.holds("a")
        assert [queue.place(n) for n in "abcd"] == [0, 1, 2, 3]
        queue.release("a")
        await settle()
        assert order == ["a", "b"] and [queue.place(n) for n in "cd"] == [1, 2]
        late = asyncio.create_task(start("e"))  # a slot about to free does not go to a newcomer
        await settle()
        assert queue.place("e") == 3
        for name in "bcd":
            queue.release(name)
            await settle()
        await asyncio.gather(*tasks, late)
        assert order == list("abcde")

    run(scenario())


def test_slots_start_side_by_side_and_the_rest_wait():
    async def scenario():
        queue = StartQueue(slots=2)
        tasks = [asyncio.create_task(queue.turn(n)) for n in "abc"]
        await settle()
        assert queue.holds("a") and queue.holds("b") and queue.place("c") == 1
        assert (queue.running, queue.waiting) == (2, 1)
        queue.release("b")
        await asyncio.gather(*tasks)
        assert queue.holds("c") and queue.place("c") == 0

    run(scenario())


def test_a_cancelled_start_leaves_the_line_and_the_next_moves_up():
    async def scenario():
        queue = StartQueue(slots=1)
        await queue.turn("a")
        b = asyncio.create_task(queue.turn("b"))
        c = asyncio.create_task(queue.turn("c"))
        await settle()
        b.cancel()
        await settle()
        assert b.cancelled() and queue.place("b") == 0 and queue.place("c") == 1
        queue.release("a")
        await c
        assert queue.holds("c") and not queue.holds("b")

    run(scenario())


def test_a_slot_handed_to_a_start_cancelled_meanwhile_goes_to_the_next():
    async def scenario():
        queue = StartQueue(slots=1)
        await queue.turn("a")
        b = asyncio.create_task(queue.turn("b"))
        c = asyncio.create_task(queue.turn("c"))
        await settle()
        queue.release("a")  # b is handed the slot ...
        b.cancel()  # ... and stopped before it could use it
        await asyncio.gather(b, c, return_exceptions=True)
        assert b.cancelled() and queue.holds("c") and not queue.holds("b")

    run(scenario())


def test_a_start_told_to_leave_gets_the_reason_and_loses_its_place():
    async def scenario():
        queue = StartQueue(slots=1)
        await queue.turn("a")
        b = asyncio.create_task(queue.turn("b"))
        c = asyncio.create_task(queue.turn("c"))
        await settle()
        assert queue.leave("b", LookupError("gone"))
        with pytest.raises(LookupError, match="gone"):
            await b
        assert queue.place("c") == 1 and not queue.leave("a", LookupError("holds a slot, not waiting"))
        queue.release("a")
        await c

    run(scenario())


def test_the_wait_is_estimated_from_how_long_starts_take():
    async def scenario():
        queue = StartQueue(slots=2, first_guess=4)
        assert [queue.estimate(p) for p in (0, 1, 2, 3, 4, 5)] == [0, 5, 5, 10, 10, 15]
        queue.typical_start = 12
        assert queue.estimate(3) == 25  # two rounds of 12 s, rounded up to 5 s
        await queue.turn("a")
        queue.release("a")  # a start of about 0 s pulls the typical time down
        assert queue.typical_start < 12

    run(scenario())


# --- the spawner: its turn before start(), its place on the page ---------------------------------


@pytest.fixture
def queue(monkeypatch):
    """A fresh queue of one slot, and translations that show which language was asked for."""
    monkeypatch.setattr(SabaqSpawner, "_start_queue", None)
    monkeypatch.setattr(spawner_module, "translator", lambda lang: (lambda msg: f"[{lang}] {msg}"))
    return lambda slots=1: SabaqSpawner(user=SimpleNamespace(name="x", groups=[]),
                                        starts_at_once=slots).start_queue()


def student(name: str, lang: str = "ru", **traits) -> SabaqSpawner:
    s = SabaqSpawner(user=SimpleNamespace(name=name, groups=[]), **traits)
    s._language = lambda: lang
    return s


async def line_up(holder, *spawners) -> list[asyncio.Task]:
    """Their spawns, each in line behind the one before (the holder has the slot)."""
    queue, tasks = holder.start_queue(), []
    for number, s in enumerate(spawners, 1):
        tasks.append(asyncio.create_task(s.run_pre_spawn_hook()))
        await until(lambda: queue.place(s) == number)  # noqa: B023 (awaited here)
    return tasks


async def events_until(spawner, stop, gen=None):
    """The progress messages of one open page, read until ``stop(message)``."""
    gen = gen or spawner.progress()
    seen = []
    async for event in gen:
        seen.append(event["message"])
        if stop(event["message"]):
            break
    return seen


def test_a_queued_student_sees_her_place_in_her_language_until_her_turn(queue):
    async def scenario():
        queue()
        first, second, third = student("aliya"), student("timur", "en"), student("sofia", "kk")
        await first.run_pre_spawn_hook()
        waiting = await line_up(first, second, third)
        page = third.progress()
        seen = await events_until(third, lambda m: "number 2" in m, page)
        q = first.start_queue()
        assert seen == ["[kk] " + QUEUE_PLACE.format(place=2, seconds=q.estimate(2))] == [
            f"[kk] You are number 2 in the queue; about {q.estimate(2)} s. Keep this page open."]
        q.release(first)
        assert (await page.__anext__())["message"].startswith("[kk] You are number 1 in the queue")
        q.release(second)
        assert (await page.__anext__()) == {"progress": 50, "message": f"[kk] {QUEUE_TURN}"}
        await page.aclose()
        await asyncio.gather(*waiting)
        assert q.holds(third)

    run(scenario())


def test_a_student_whose_page_stays_closed_leaves_the_queue(queue):
    async def scenario():
        queue()
        first, second = student("aliya"), student("timur", queue_page_grace=0.05)
        await first.run_pre_spawn_hook()
        waiting = asyncio.create_task(second.run_pre_spawn_hook())
        await until(lambda: first.start_queue().waiting == 1)
        page = second.progress()
        await page.__anext__()
        await page.aclose()  # she closed the page
        with pytest.raises(SpawnException) as refused:
            await waiting
        assert refused.value.jupyterhub_message == f"[ru] {QUEUE_LEFT}"
        assert first.start_queue().place(second) == 0

    run(scenario())


def test_a_reloaded_page_keeps_the_place_and_a_start_without_a_page_waits(queue):
    async def scenario():
        queue()
        first, second = student("aliya"), student("timur", queue_page_grace=0.2)
        api_only = student("sofia", queue_page_grace=0.01)  # asked through the API: never had a page
        await first.run_pre_spawn_hook()
        waiting = await line_up(first, second, api_only)
        page = second.progress()
        await page.__anext__()
        await page.aclose()
        again = second.progress()  # reloaded within the grace
        assert "number 1" in (await again.__anext__())["message"]
        await asyncio.sleep(0.4)
        q = first.start_queue()
        assert q.place(second) == 1 and q.place(api_only) == 2
        q.release(first)
        assert (await again.__anext__())["message"].endswith(QUEUE_TURN)
        await again.aclose()
        q.release(second)
        await asyncio.gather(*waiting)
        assert q.holds(api_only)

    run(scenario())


def test_a_cancelled_spawn_leaves_the_queue(queue):
    async def scenario():
        queue()
        first, second, third = student("aliya"), student("timur"), student("sofia")
        await first.run_pre_spawn_hook()
        second_spawn, third_spawn = await line_up(first, second, third)
        second_spawn.cancel()  # what DELETE /hub/api/users/timur/server does to a pending spawn
        await settle()
        q = first.start_queue()
        assert q.place(second) == 0 and q.place(third) == 1
        q.release(first)
        await third_spawn
        assert q.holds(third)

    run(scenario())


def test_the_slot_is_held_until_the_hubs_start_finishes_or_the_server_is_stopped(queue, monkeypatch):
    async def fake_stop(self, now=False):
        return None

    monkeypatch.setattr(LocalProcessSpawner, "stop", fake_stop)

    async def scenario():
        queue()
        first, second, third = student("aliya"), student("timur"), student("sofia")
        loop = asyncio.get_running_loop()
        first._spawn_future = loop.create_future()  # the hub's whole start: start(), then the HTTP check
        await first.run_pre_spawn_hook()
        second_spawn = asyncio.create_task(second.run_pre_spawn_hook())
        q = first.start_queue()
        await until(lambda: q.waiting == 1)
        assert q.place(second) == 1
        first._spawn_future.set_result(None)  # her server answers
        await second_spawn
        assert q.holds(second) and not q.holds(first)
        third_spawn = asyncio.create_task(third.run_pre_spawn_hook())
        await until(lambda: q.waiting == 1)
        await second.stop()  # stopped (or failed) before it answered
        await third_spawn
        assert q.holds(third) and not q.holds(second)

    run(scenario())


def test_the_start_timeout_counts_from_when_the_start_leaves_the_queue(queue, monkeypatch):
    """JupyterHub times spawner.start() (start_timeout) and the HTTP check (http_timeout) only:
    the turn is taken in run_pre_spawn_hook, before them. A start that waits in line far longer
    than start_timeout still starts, in JupyterHub's own order of calls."""
    source = inspect.getsource(User.spawn)
    assert source.index("spawner.run_pre_spawn_hook()") < source.index("spawner.start()") \
        < source.index("timeout=spawner.start_timeout")

    async def fake_start(self):
        await asyncio.sleep(0.05)
        return ("127.0.0.1", 1)

    monkeypatch.setattr(SabaqSpawner, "start", fake_start)

    async def hub_spawn(spawner):
        await spawner.run_pre_spawn_hook()
        return await asyncio.wait_for(spawner.start(), timeout=spawner.start_timeout)

    async def scenario():
        queue()
        first, second = student("aliya", start_timeout=1), student("timur", start_timeout=1)
        await hub_spawn(first)
        second_spawn = asyncio.create_task(hub_spawn(second))
        await asyncio.sleep(1.5)  # in line longer than her start_timeout
        assert not second_spawn.done()
        first.start_queue().release(first)
        assert await second_spawn == ("127.0.0.1", 1)

    run(scenario())


def test_the_hub_queues_instead_of_refusing_and_warm_start_is_a_setting(tmp_path):
    from traitlets.config import Config

    from sabaq.hub.jupyterhub.hubconfig import configure

    settings = Settings.load(tmp_path, environ={"SABAQ_HUB_CONCURRENT_SPAWN_LIMIT": "3",
                                                "SABAQ_SPAWNER_WARM_START": "false",
                                                "SABAQ_HUB_PROXY_COMMAND": "/bin/true"})
    settings.hub.cookie_secret = "00" * 32
    c = Config()
    configure(c, settings)
    assert c.JupyterHub.concurrent_spawn_limit == 0  # no 429 "too many users"
    assert c.SabaqSpawner.starts_at_once == 3 and c.SabaqSpawner.warm_start is False
    assert SabaqSpawner(config=c, user=SimpleNamespace(name="x", groups=[])).starts_at_once == 3
    assert Settings.load(tmp_path / "other", environ={}).hub.concurrent_spawn_limit >= 2


def test_a_place_that_does_not_change_is_said_again_with_a_fresh_estimate(queue):
    async def scenario():
        queue()
        first, second = student("aliya"), student("timur", queue_page_refresh=0.05)
        await first.run_pre_spawn_hook()
        (waiting,) = await line_up(first, second)
        page = second.progress()
        said = [(await page.__anext__())["message"] for _ in range(3)]
        assert len(said) == 3 and all("number 1" in m for m in said)
        await page.aclose()
        first.start_queue().release(first)
        await waiting

    run(scenario())
