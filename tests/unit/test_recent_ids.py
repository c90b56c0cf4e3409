"""The in-memory dedupe window: bounded, oldest first out, and still O(1) when full."""

from __future__ import annotations

from bot.engine import RecentIds


def test_the_oldest_id_leaves_first_once_the_window_is_full() -> None:
    recent = RecentIds(capacity=3)
    for n in range(5):
        recent.add(("whatsapp", f"wamid.{n}"))
    assert len(recent) == 3
    assert ("whatsapp", "wamid.0") not in recent and ("whatsapp", "wamid.1") not in recent
    assert all(("whatsapp", f"wamid.{n}") in recent for n in (2, 3, 4))


def test_seeing_an_id_again_does_not_grow_the_window() -> None:
    recent = RecentIds(capacity=2)
    recent.add(("twilio", "SM1"))
    recent.add(("twilio", "SM1"))
    recent.add(("twilio", "SM2"))
    assert len(recent) == 2 and ("twilio", "SM1") in recent


def test_a_full_window_keeps_evicting_long_after_it_filled() -> None:
    # a plain dict used as a FIFO slows down here (each eviction scans the deleted slots in
    # front); the window must keep exactly its capacity and its newest ids
    recent = RecentIds(capacity=1_000)
    for n in range(50_000):
        recent.add(("simulator", str(n)))
    assert len(recent) == 1_000
    assert ("simulator", "49999") in recent
    assert ("simulator", "49000") in recent and ("simulator", "48999") not in recent
