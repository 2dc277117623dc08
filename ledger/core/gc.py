"""Pause Python's cyclic garbage collector around bounded, allocation-heavy batch loops.

Appending or verifying thousands of events allocates many small containers; with a large live
heap (caches, bundles) the collector's generation-2 passes then rescan everything again and
again, which can cost more than the work itself. Reference counting still frees everything
acyclic while the collector is paused; cycles are collected once it resumes.

Pauses nest and overlap across threads (the writer's group commit runs while a caller verifies
the next part of its batch): the collector resumes when the LAST running pause ends. Running
pauses are counted in a list that is only appended to and popped (each one atomic operation), so
no lock is needed. Checking the count right after changing it can race with a pause starting in
another thread; the worst outcome is that the collector resumes while that pause runs (it costs
speed, never correctness), and the last pause to end always resumes it. When the collector is
already off outside any pause (the program turned it off), a pause leaves it alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["freeze_heap", "gc_paused"]

_running: list[None] = []  # one item per running pause


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector paused."""
    if not _running and not gc.isenabled():
        yield  # off already, and not by us: not ours to turn on
        return
    _running.append(None)
    gc.disable()
    try:
        yield
    finally:
        _running.pop()
        if not _running:
            gc.enable()


def freeze_heap() -> None:
    """Collect once, then keep everything alive now out of every later collection.

    For a server right before it serves: its app, routes, models and caches live as long as the
    process, and without this every full collection would rescan all of them (gc.freeze, as
    CPython's documentation suggests for long-running servers).
    """
    gc.collect()
    gc.freeze()
