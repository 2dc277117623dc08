"""The collector pause: nested and overlapping pauses resume the collector exactly once, last."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from ledger.core.gc import gc_paused


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_nested_pauses_resume_at_the_outermost_end() -> None:
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still running
    assert gc.isenabled()


def test_overlapping_pauses_across_threads_resume_when_the_last_ends() -> None:
    inner_started, outer_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with gc_paused():
            inner_started.set()
            outer_done.wait(10)
            seen.append(gc.isenabled())  # the first pause has ended: still paused for us
        seen.append(gc.isenabled())

    with gc_paused():
        thread = threading.Thread(target=other)
        thread.start()
        inner_started.wait(10)
    outer_done.set()
    thread.join(10)
    assert seen == [False, True]
    assert gc.isenabled()


def test_many_threads_always_leave_the_collector_on() -> None:
    def work() -> None:
        for _ in range(2000):
            with gc_paused(), gc_paused():
                pass

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_program_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_exception_still_resumes_the_collector() -> None:
    with pytest.raises(ValueError), gc_paused():
        raise ValueError
    assert gc.isenabled()
