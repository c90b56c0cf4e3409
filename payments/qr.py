"""QR PNGs of UPI links, cached.

``qrcode`` builds the matrix (function patterns, format and version information, data
placement, the mask). Its pure-Python encoding of the data (a bit at a time, twice: once to
pick the version, once for real) and its Reed-Solomon division (a new polynomial object per
step) are slow, so for the one segment every UPI link is (8-bit bytes) the codewords are
computed here, table-driven, and handed to ``qrcode`` as its ``data_cache``;
tests/unit/test_qr.py checks they are ``qrcode.util.create_data``'s own, for every version.
Anything else takes ``qrcode``'s own path. A render of a 130-character UPI link went from
27.2 M to 6.67 M instructions, 2.36 to 0.55 ms of CPU (docs/BENCHMARKS.md, "2026-12-01
23:55"), still off the event loop on a miss; the payment page and the chat reply
for one link share one render through ``functools.lru_cache`` keyed by the link text
(thread-safe, as the renders run in threads).
"""

from __future__ import annotations

import asyncio
import functools
import struct
import zlib

import qrcode
from qrcode import base as qr_base
from qrcode import util as qr_util
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

BOX_SIZE = 8  # px a module; _png relies on 8: at 1 bit a pixel, a module is one byte
BORDER = 4
CACHE_SIZE = 512


# Any of the eight masks makes a valid code; the spec's "best mask" search (scoring all
# eight in pure Python) is ~80 % of qrcode's time. Mask 2 (vertical stripes every third
# column) keeps the code readable with no long runs for UPI links' mostly-ASCII payloads.
MASK_PATTERN = 2


# GF(256) as QR codes define it (x^8 + x^4 + x^3 + x^2 + 1), qrcode's own tables
_EXP: tuple[int, ...] = tuple(qr_base.EXP_TABLE)
_LOG: tuple[int, ...] = tuple(qr_base.LOG_TABLE)
# a light module becomes 0xFF (eight white pixels at 1 bit each), a dark one 0x00
_MODULE_BYTE = bytes.maketrans(b"\x00\x01", b"\xff\x00")
# the rows repeat: the fastest level gives 1,356 bytes for a 130-character UPI link
# (docs/BENCHMARKS.md, "2026-12-01 23:55")
PNG_ZLIB_LEVEL = 1


@functools.cache
def _generator_logs(degree: int) -> tuple[int, ...]:
    """Logs of the Reed-Solomon generator's coefficients after the leading 1:
    the product of (x - a^i) for i < degree."""
    poly = [1]
    for i in range(degree):
        nxt = [*poly, 0]
        for j, coefficient in enumerate(poly):
            if coefficient:
                nxt[j + 1] ^= _EXP[(_LOG[coefficient] + i) % 255]
        poly = nxt
    return tuple(_LOG[c] for c in poly[1:])


@functools.cache
def _products(degree: int) -> tuple[int, ...]:
    """For each byte f, f times the generator's coefficients after the leading 1, packed
    big-endian into one int: a division step is then one shift and one XOR."""
    logs = _generator_logs(degree)
    rows = [0] * 256
    for factor in range(1, 256):
        shift, packed = _LOG[factor], 0
        for g in logs:
            packed = packed << 8 | _EXP[(shift + g) % 255]
        rows[factor] = packed
    return tuple(rows)


def _ec_codewords(data: bytes, degree: int) -> list[int]:
    """The remainder of data(x) * x^degree divided by the generator (long division, the
    remainder's ``degree`` bytes held in one int)."""
    rows = _products(degree)
    mask = (1 << 8 * degree) - 1
    top = 8 * (degree - 1)
    rem = 0
    for byte in data:
        rem = (rem << 8 & mask) ^ rows[byte ^ rem >> top]
    return list(rem.to_bytes(degree, "big"))


def _byte_mode_codewords(payload: bytes, error_correction: int) -> tuple[int, list[int]]:
    """(version, final codewords) of one 8-bit-byte segment: what ``qrcode.util.create_data``
    returns for the smallest version that fits (``QRCode.best_fit``), computed a byte at a
    time instead of a bit at a time."""
    limits = qr_util.BIT_LIMIT_TABLE[error_correction]
    for version in range(1, 41):
        count_bits = 8 if version < 10 else 16
        used = 4 + count_bits + 8 * len(payload)
        if used <= limits[version]:
            break
    else:
        raise ValueError("too much data for one QR code")
    blocks = qr_base.rs_blocks(version, error_correction)
    capacity = limits[version]
    value = (qr_util.MODE_8BIT_BYTE << count_bits | len(payload)) << 8 * len(payload)
    value |= int.from_bytes(payload, "big")
    terminator = min(capacity - used, 4)
    used += terminator
    pad = -used % 8
    value <<= terminator + pad
    stream = bytearray(value.to_bytes((used + pad) // 8, "big"))
    for i in range((capacity - used - pad) // 8):
        stream.append(qr_util.PAD0 if i % 2 == 0 else qr_util.PAD1)
    data_blocks: list[bytes] = []
    ec_blocks: list[list[int]] = []
    offset = 0
    for block in blocks:
        chunk = bytes(stream[offset:offset + block.data_count])
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_ec_codewords(chunk, block.total_count - block.data_count))
    out: list[int] = []
    for i in range(max(len(b) for b in data_blocks)):
        out.extend(b[i] for b in data_blocks if i < len(b))
    for i in range(max(len(b) for b in ec_blocks)):
        out.extend(b[i] for b in ec_blocks if i < len(b))
    return version, out


def _matrix(data: str) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=BOX_SIZE, border=BORDER,
                       mask_pattern=MASK_PATTERN)
    try:
        qr.add_data(data.encode("utf-8"))
        segments = qr.data_list
        if len(segments) == 1 and segments[0].mode == qr_util.MODE_8BIT_BYTE:
            qr.version, qr.data_cache = _byte_mode_codewords(segments[0].data,
                                                             ERROR_CORRECT_M)
            qr.make(fit=False)
        else:  # numeric or alphanumeric runs (qrcode splits them off): its own encoder
            qr.make(fit=True)
    except (DataOverflowError, ValueError) as exc:  # qrcode raises either past version 40
        raise ValueError("too much data for one QR code") from exc
    matrix: list[list[bool]] = qr.get_matrix()
    return matrix


def _render(data: str) -> bytes:
    return _png(_matrix(data))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def _png(matrix: list[list[bool]]) -> bytes:
    """A 1-bit greyscale PNG of the module matrix (border included), ``BOX_SIZE`` px a module.

    Written directly (the format is three chunks): drawing every module as a rectangle
    through PIL costs more than encoding the whole code. At 8 px a module, a module is one
    byte of a row.
    """
    size = len(matrix) * BOX_SIZE
    rows: list[bytes] = []
    for row in matrix:
        line = b"\x00" + bytes(row).translate(_MODULE_BYTE)  # filter byte 0: none
        rows.append(line * BOX_SIZE)
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), PNG_ZLIB_LEVEL))
            + _chunk(b"IEND", b""))


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
