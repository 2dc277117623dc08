"""Pause Python's cyclic garbage collector around bounded, allocation-heavy batch loops.

Appending or verifying thousands of events allocates many small containers; with a large live
heap (caches, bundles) the collector's generation-2 passes then rescan everything again and
again, which can cost more than the work itself. Reference counting still frees everything
acyclic while the collector is paused; cycles are collected once it resumes.

Each pause remembers whether the collector was on when it began and turns it back on at its end
only then, so nested pauses compose, and pauses that overlap across threads always leave the
collector as it was before the first began (one of them may resume it while another is still
running: that costs only speed, never memory safety). No lock or global counter is needed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector paused."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
