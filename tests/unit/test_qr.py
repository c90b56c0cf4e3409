"""QR PNGs decode back to the exact link (zxing-cpp), and the cache avoids re-rendering."""

from __future__ import annotations

import io

import PIL.Image
import pytest
import zxingcpp

from catalog.money import Money
from payments import qr
from payments.upi import UpiLink

TV_UPI_1 = "upi://pay?pa=chaipoint@okaxis&pn=Chai%20Point&am=149.50&cu=INR&tn=Order%2042&tr=ORD-42"


def decode(png: bytes) -> str:
    image = PIL.Image.open(io.BytesIO(png))
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    return str(results[0].text)


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    qr.cache_clear()


def test_png_decodes_to_the_exact_link() -> None:
    png = qr.render_qr_png(TV_UPI_1)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode(png) == TV_UPI_1


@pytest.mark.parametrize(
    "payee", ["মিত্র টি হাউস", "मित्र चाय", "شاي ميترا", "A&B Traders 1+1=2 #x"]
)
def test_non_ascii_and_escapes_survive(payee: str) -> None:
    uri = UpiLink.build(pa="mitratea@okaxis", pn=payee, amount=Money(4000, "INR"),
                        tr="ORD-7-1").to_uri()
    assert "%" in uri
    assert decode(qr.render_qr_png(uri)) == uri
    raw_text = f"upi://pay?pa=mitratea@okaxis&pn={payee}"  # unencoded UTF-8 too
    assert decode(qr.render_qr_png(raw_text)) == raw_text


def test_geometry_ecc_m_border_4_box_8() -> None:
    image = PIL.Image.open(io.BytesIO(qr.render_qr_png(TV_UPI_1)))
    width, height = image.size
    assert width == height
    modules = width // qr.BOX_SIZE
    assert width % qr.BOX_SIZE == 0
    version = (modules - 2 * qr.BORDER - 17) // 4
    assert 17 + 4 * version + 2 * qr.BORDER == modules
    # quiet zone is white
    pixel = image.convert("L").getpixel((qr.BORDER * qr.BOX_SIZE - 1, width // 2))
    assert pixel == 255


def test_cache_returns_the_same_bytes_without_rendering() -> None:
    first = qr.render_qr_png(TV_UPI_1)
    second = qr.render_qr_png(TV_UPI_1)
    assert first is second
    hits, misses, size = qr.cache_info()
    assert (hits, misses, size) == (1, 1, 1)


async def test_async_render_uses_thread_then_cache() -> None:
    png = await qr.render_qr_png_async(TV_UPI_1)
    assert decode(png) == TV_UPI_1
    again = await qr.render_qr_png_async(TV_UPI_1)
    assert again is png
    hits, _, size = qr.cache_info()
    assert hits >= 1 and size == 1


def test_cache_is_bounded() -> None:
    links = [f"upi://pay?pa=shop{i}@bank&am=1" for i in range(qr.CACHE_SIZE + 5)]
    for link in links:
        qr.render_qr_png(link)
    assert qr.cache_info()[2] == qr.CACHE_SIZE
    qr.render_qr_png(links[-1])  # still held: a hit
    assert qr.cache_info()[:2] == (1, qr.CACHE_SIZE + 5)
    qr.render_qr_png(links[0])  # the oldest went first: rendered again
    assert qr.cache_info()[:2] == (1, qr.CACHE_SIZE + 6)


def test_refuses_empty_and_oversized_data() -> None:
    with pytest.raises(ValueError, match="nothing"):
        qr.render_qr_png("")
    with pytest.raises(ValueError, match="too much"):
        qr.render_qr_png("x" * 5000)


def _qrcode_own_matrix(data: str) -> list[list[bool]]:
    """The matrix qrcode builds when it encodes the data itself (its best_fit, create_data)."""
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M,
                         box_size=qr.BOX_SIZE, border=qr.BORDER, mask_pattern=qr.MASK_PATTERN)
    code.add_data(data.encode("utf-8"))
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def test_byte_mode_codewords_are_qrcodes_own_for_every_version() -> None:
    """The table-driven encoder (payments/qr.py) against qrcode.util.create_data, at the
    largest payload of each version, so every block layout and both count widths appear."""
    import random

    from qrcode import util
    from qrcode.constants import ERROR_CORRECT_M

    rng = random.Random(40)
    for version in range(1, 41):
        count_bits = 8 if version < 10 else 16
        size = (util.BIT_LIMIT_TABLE[ERROR_CORRECT_M][version] - 4 - count_bits) // 8
        payload = bytes(rng.randrange(256) for _ in range(size))
        found = qr._byte_mode_codewords(payload, ERROR_CORRECT_M)
        assert found == (version, util.create_data(
            version, ERROR_CORRECT_M, [util.QRData(payload, mode=util.MODE_8BIT_BYTE)]))


@pytest.mark.parametrize("length", [1, 13, 14, 100, 212, 213, 400, 1000, 2000, 2331])
def test_matrix_is_the_one_qrcode_builds_itself(length: int) -> None:
    unit = "upi://pay?pn=মিত্র&pa=mitratea@okaxis&tr=" if length <= 400 else "upi://pay?tr=x&"
    text = (unit * (length // len(unit) + 1))[:length]  # up to 2,331 bytes: version 40
    assert qr._matrix(text) == _qrcode_own_matrix(text)


def test_links_with_long_digit_runs_take_qrcodes_own_encoder() -> None:
    """qrcode splits a run of 20+ digits into a numeric segment: not the byte-mode path."""
    text = "upi://pay?pa=shop@okaxis&tr=" + "1234567890" * 4
    assert qr._matrix(text) == _qrcode_own_matrix(text)
    assert decode(qr.render_qr_png(text)) == text
