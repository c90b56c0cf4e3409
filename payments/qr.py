"""QR PNGs of UPI links, cached.

A render costs about 7 ms of CPU (docs/BENCHMARKS.md), so the async entry point renders in a
worker thread; the payment page and the chat reply for one link share one render through
``functools.lru_cache`` keyed by the link text (thread-safe, as the renders run in threads).
"""

from __future__ import annotations

import asyncio
import functools
import struct
import zlib

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

BOX_SIZE = 8
BORDER = 4
CACHE_SIZE = 512


# Any of the eight masks makes a valid code; the spec's "best mask" search (scoring all
# eight in pure Python) is ~80 % of qrcode's time. Mask 2 (vertical stripes every third
# column) keeps the code readable with no long runs for UPI links' mostly-ASCII payloads.
MASK_PATTERN = 2


def _render(data: str) -> bytes:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=BOX_SIZE, border=BORDER,
                       mask_pattern=MASK_PATTERN)
    try:
        qr.add_data(data.encode("utf-8"))
        qr.make(fit=True)
    except (DataOverflowError, ValueError) as exc:  # qrcode raises either past version 40
        raise ValueError("too much data for one QR code") from exc
    return _png(qr.get_matrix(), BOX_SIZE)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def _png(matrix: list[list[bool]], scale: int) -> bytes:
    """A 1-bit greyscale PNG of the module matrix (border included), ``scale`` px a module.

    Written directly (the format is three chunks): drawing every module as a rectangle
    through PIL costs more than encoding the whole code.
    """
    size = len(matrix) * scale
    raw = bytearray()
    for row in matrix:
        bits = "".join(("0" if dark else "1") * scale for dark in row)  # 0 = black
        bits += "1" * (-len(bits) % 8)
        line = b"\x00" + int(bits, 2).to_bytes(len(bits) // 8, "big")
        raw += line * scale
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + _chunk(b"IEND", b""))


_cached = functools.lru_cache(maxsize=CACHE_SIZE)(_render)


def render_qr_png(data: str) -> bytes:
    """PNG bytes of a QR code (ECC M, border 4, 8 px modules) holding ``data`` as UTF-8."""
    if not data:
        raise ValueError("nothing to encode")
    return _cached(data)


async def render_qr_png_async(data: str) -> bytes:
    """Same as :func:`render_qr_png`, off the event loop (a cached answer costs the hop)."""
    return await asyncio.to_thread(render_qr_png, data)


def cache_info() -> tuple[int, int, int]:
    """``(hits, misses, size)`` of the PNG cache, for metrics and tests."""
    info = _cached.cache_info()
    return info.hits, info.misses, info.currsize


def cache_clear() -> None:
    _cached.cache_clear()
