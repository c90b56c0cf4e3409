"""A clock that tests (and ``haat test``'s ``wait:`` steps) can move forward."""

from __future__ import annotations

import time


class Clock:
    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    @classmethod
    def starting_at(cls, epoch_ms: int) -> Clock:
        """A clock that reads ``epoch_ms`` now and runs on from there (tests)."""
        return cls(epoch_ms - int(time.time() * 1000))

    def advance(self, *, minutes: float = 0, seconds: float = 0) -> None:
        self.offset_ms += int((minutes * 60 + seconds) * 1000)
