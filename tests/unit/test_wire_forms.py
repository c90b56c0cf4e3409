"""config/wire.py's form decoder and JSON cleaning: the same answers as before, at C speed.

Found by probing each request kind on a real server (docs/RELIABILITY.md "What can make the
loop busy"): urllib's unquote decodes %XX escapes in a Python loop, so a 1 MB Twilio form of
them held the event loop 200-700 ms; rewriting JSON escapes with a regex callback cost
60-110 ms on a 1 MB Cloud body of them. Speed is asserted as a count of function calls
(load-independent, unlike a stopwatch on a shared machine): the old code made one or two
per escape.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import wire

PIECES = ["%", "%4", "%41", "%e2%82%ac", "%E2", "%F0%9F", "+", "&", "=", "a", "\\", "\\x41",
          "é", "€", "😀", "%zz", "%%", "%0", "%00", "%5C", "%ff", "%25", "%2B", "\\\\"]


def _calls(work: Callable[[], Any]) -> int:
    """How many Python and C functions ``work`` called (a profiler's count, not a clock)."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=16))
def test_form_pairs_decode_as_parse_qsl_does(pieces: list[str]) -> None:
    """Twilio signs the fields as decoded: any difference would be a wrong 403."""
    text = "".join(pieces)
    body = text.encode()
    assert wire.unquote_bytes(body) == unquote_to_bytes(body)
    expected = parse_qsl(text, keep_blank_values=True)
    assert wire.form_pairs(body, max_fields=100, small=0) == expected  # the C path
    assert wire.form_pairs(body, max_fields=100) == expected


def test_too_many_fields_are_refused_before_decoding() -> None:
    for small in (0, wire.SMALL_FORM):
        with pytest.raises(wire.TooManyFields):
            wire.form_pairs(b"a=1&" * 256 + b"b=2", max_fields=256, small=small)
        assert len(wire.form_pairs(b"a=1&" * 255 + b"b=2", max_fields=256, small=small)) == 256
        with pytest.raises(UnicodeDecodeError):
            wire.form_pairs(b"Body=\xff", max_fields=10, small=small)


def test_a_megabyte_of_escapes_is_decoded_in_a_few_calls() -> None:
    body = b"Body=" + b"%E2%82%AC" * 115_000 + b"&From=whatsapp%3A%2B91"
    pairs: list[tuple[str, str]] = []
    calls = _calls(lambda: pairs.extend(wire.form_pairs(body, max_fields=256)))
    assert pairs[0] == ("Body", "€" * 115_000)
    assert calls < 100, calls  # urllib: 690,000


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\ud83d\\ude00", b"\\u00e9", b"\\u0000"])
def test_a_megabyte_of_json_escapes_is_cleaned_in_a_few_calls(escape: bytes) -> None:
    body = b'{"text": "' + escape * (1_000_000 // len(escape)) + b'"}'
    found: list[Any] = []
    calls = _calls(lambda: found.append(wire.loads(body)))
    assert calls < 200, calls  # a regex callback per escape: 85,000 to 170,000
    text = found[0]["text"]
    assert text.encode("utf-8")  # storable
    assert "\x00" not in text


def test_json_strings_and_keys_are_made_storable_after_parsing() -> None:
    value = wire.loads(b'{"\\ud800k": "\\u0000", "pair": "\\ud83d\\ude00", '
                       b'"list": ["\\udc00", {"x\\u0000": "\\\\ud800"}], "n": 1}')
    assert value == {"\ufffdk": "\ufffd", "pair": "😀",
                     "list": ["\ufffd", {"x\ufffd": "\\ud800"}], "n": 1}
    assert wire.loads(b'"\\ud800"') == "\ufffd"
    assert wire.loads(b'{"\\ud800": 1, "\\udfff": 2}') == {"\ufffd": 2}  # the last key wins
