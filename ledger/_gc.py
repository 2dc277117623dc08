"""Pause Python's cyclic garbage collector around bounded, allocation-heavy batch loops.

Appending or verifying thousands of events allocates many small containers; with a large live
heap (caches, bundles) the collector's generation-2 passes then rescan everything again and
again, which can cost more than the work itself. Reference counting still frees everything
acyclic while the collector is paused; cycles are collected once it resumes. Pauses nest and
may overlap across threads: the collector resumes when the last one ends, and only if it was
enabled before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector paused."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
