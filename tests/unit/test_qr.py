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
