"""Request limits: token-bucket rate limiting and bounded body reading (413)."""

from __future__ import annotations

import math
import threading
import time

from fastapi import Request
from starlette.requests import ClientDisconnect

from .problems import HttpProblem

__all__ = ["RateLimiter", "read_body", "retry_after"]


class RateLimiter:
    """Token buckets by key: ``rate`` tokens per second, at most ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens from ``key``'s bucket, all or none.

        Returns:
            0.0 when they were taken; otherwise (nothing taken) the seconds until the bucket
            would hold ``cost`` — ``inf`` when ``cost`` is over the burst and never will.
        """
        return self._take(key, cost, take=True)

    def wait(self, key: str, cost: float = 1.0) -> float:
        """Like :meth:`take`, but takes nothing: 0.0 when ``cost`` tokens are there now."""
        return self._take(key, cost, take=False)

    def allow(self, key: str, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens from ``key``'s bucket; False when it has too few."""
        return self.take(key, cost) == 0.0

    def _take(self, key: str, cost: float, *, take: bool) -> float:
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - last) * self.rate)
            if level < cost:
                self._buckets[key] = (level, now)
                if cost > self.burst or self.rate <= 0:
                    return math.inf
                return (cost - level) / self.rate
            if len(self._buckets) > 100_000:  # bound memory under a flood of keys
                self._buckets.clear()
            self._buckets[key] = (level - cost if take else level, now)
            return 0.0


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1 (at most a day: a bucket
    that never refills, a zero rate or burst, says "much later" rather than failing)."""
    return str(max(1, math.ceil(min(seconds, 86_400.0))))


async def read_body(request: Request, limit: int, hint: str = "send less") -> bytes:
    """The request body, refusing (413 ``too_large``) anything over ``limit`` bytes.

    The body is read as a stream and refused as soon as it passes the limit, so at most
    ``limit`` bytes (plus one chunk) are ever held; a declared ``Content-Length`` over the limit
    is refused before anything is read. ``hint`` ends the 413 detail (what to do).
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpProblem(
            "too_large", f"the body of {declared} bytes is over the {limit}-byte limit; {hint}"
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpProblem("too_large", f"the body is over the {limit}-byte limit; {hint}")
            chunks.append(chunk)
    except ClientDisconnect:
        raise HttpProblem("bad_request", "the client disconnected before the whole body") from None
    return b"".join(chunks)
