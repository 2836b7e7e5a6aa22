"""The replay guard: nonces seen within the tolerance window, in bounded memory.

A nonce is remembered until its delivery's timestamp leaves the window (after that the
timestamp check refuses a replay anyway). Past ``max_nonces`` remembered at once, the one
that expires first is forgotten first.

Example::

    from pixverse_async.webhooks.replay import NonceGuard

    guard = NonceGuard(max_nonces=2)
    assert guard.add("n1", expires=100.0, now=0.0)
    assert not guard.add("n1", expires=100.0, now=1.0)      # seen: a replay
    assert guard.add("n1", expires=200.0, now=150.0)        # its window had passed
"""

from __future__ import annotations

import heapq


class NonceGuard:
    """Nonces and when each stops mattering (Unix seconds)."""

    __slots__ = ("_expiry", "_heap", "max_nonces")

    def __init__(self, max_nonces: int = 100_000) -> None:
        if max_nonces < 1:
            raise ValueError("max_nonces must be at least 1")
        self.max_nonces = max_nonces
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def seen(self, nonce: str, now: float) -> bool:
        """Whether ``nonce`` was added and has not expired at ``now``."""
        expires = self._expiry.get(nonce)
        return expires is not None and expires >= now

    def add(self, nonce: str, *, expires: float, now: float) -> bool:
        """Remember ``nonce`` until ``expires``; False (and nothing changes) if already seen."""
        self._evict(now)
        if self.seen(nonce, now):
            return False
        while len(self._expiry) >= self.max_nonces:
            self._pop()
        self._expiry[nonce] = expires
        heapq.heappush(self._heap, (expires, nonce))
        return True

    def discard(self, nonce: str) -> None:
        """Forget ``nonce`` (a delivery that was refused later may be retried as it was)."""
        self._expiry.pop(nonce, None)
        if len(self._heap) > 2 * self.max_nonces:  # drop the heap's entries of forgotten nonces
            self._heap = [(e, n) for e, n in self._heap if self._expiry.get(n) == e]
            heapq.heapify(self._heap)

    def _evict(self, now: float) -> None:
        while self._heap and self._heap[0][0] < now:
            self._pop()

    def _pop(self) -> None:
        expires, nonce = heapq.heappop(self._heap)
        if self._expiry.get(nonce) == expires:
            del self._expiry[nonce]
