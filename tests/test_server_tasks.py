"""The server's one wait: a piece of work against a stop signal, whichever comes first."""

from __future__ import annotations

import asyncio

import pytest

from lmarena_cli.server.tasks import abandon, race


async def test_race_is_true_when_the_work_finishes_first() -> None:
    stop = asyncio.Event()
    task = asyncio.ensure_future(asyncio.sleep(0, result="done"))
    assert await race(task, stop) is True
    assert task.result() == "done"


async def test_race_is_false_when_stopped_first_and_leaves_the_work_running() -> None:
    stop = asyncio.Event()
    task = asyncio.ensure_future(asyncio.Event().wait())  # never done by itself
    asyncio.get_running_loop().call_soon(stop.set)  # once the race is waiting
    assert await race(task, stop) is False
    assert stop.is_set()
    assert not task.done()
    await abandon(task)
    assert task.cancelled()


async def test_race_is_false_when_the_time_runs_out_without_a_stop() -> None:
    stop = asyncio.Event()
    task = asyncio.ensure_future(asyncio.sleep(30))
    assert await race(task, stop, timeout=0.01) is False
    assert not stop.is_set() and not task.done()
    await abandon(task)


async def test_cancelling_the_wait_cancels_the_work() -> None:
    stop = asyncio.Event()
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.Event().wait()  # never done by itself

    task = asyncio.ensure_future(work())
    waiting = asyncio.ensure_future(race(task, stop))
    await started.wait()  # the work runs, and the race (started after it) waits on it
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with pytest.raises(asyncio.CancelledError):
        await task  # ends only by the race's cancelling it
    assert task.cancelled()


async def test_abandon_ignores_how_the_work_ends() -> None:
    async def fails() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            raise RuntimeError("failed while cancelled")

    task = asyncio.ensure_future(fails())
    await asyncio.sleep(0)
    await abandon(task)
    assert task.done()


def slow_to_end() -> tuple[asyncio.Task[None], asyncio.Event]:
    """A task that, once cancelled, keeps running until cancelled again; and the event it sets
    when the first cancellation reached it."""
    reached = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            reached.set()
            await asyncio.Event().wait()  # only a second cancellation ends this

    return asyncio.ensure_future(work()), reached


async def test_abandon_lets_the_callers_own_cancellation_through() -> None:
    task, reached = slow_to_end()
    await asyncio.sleep(0)  # the task runs up to its wait
    caller = asyncio.ensure_future(abandon(task))
    await reached.wait()  # the caller now waits for the task to end
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert caller.cancelled()  # not a normal return: the cancellation was not swallowed
    assert task.cancelled()


async def test_a_timeout_around_abandon_still_times_out() -> None:
    task, reached = slow_to_end()
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await abandon(task)
    assert reached.is_set() and task.cancelled()


async def test_abandon_swallows_the_tasks_own_cancellation_and_failure_only() -> None:
    async def ends_cancelled() -> None:
        await asyncio.Event().wait()

    task = asyncio.ensure_future(ends_cancelled())
    await asyncio.sleep(0)
    await abandon(task)  # returns: the task's cancellation is the one abandon asked for
    assert task.cancelled()
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
