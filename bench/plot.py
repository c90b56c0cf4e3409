"""A PNG of the growth results, drawn with Pillow (already a dependency through qrcode):
left, throughput per growth run; right, search and NLU p99 against catalog size (log x)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from bench.report import Report

W, H = 1100, 460
PAD = 60
BLUE, ORANGE, GREY, RED = (52, 101, 164), (230, 126, 34), (120, 120, 120), (200, 40, 40)


def _axes(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str) -> None:
    x0, y0, x1, y1 = box
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=(0, 0, 0), width=1)
    draw.text((x0, y0 - 30), title, fill=(0, 0, 0))


def growth_plot(report: Report, out: Path) -> Path | None:
    if not report.growth_runs and not report.latency:
        return None
    image = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(image)
    # left: throughput bars
    box = (PAD, PAD, W // 2 - PAD // 2, H - PAD * 2)
    _axes(draw, box, "msg/s under load (SQLite, same traffic)")
    runs = report.growth_runs
    if runs:
        top = max(r.throughput for _, r in runs) * 1.15 or 1.0
        x0, y0, x1, y1 = box
        width = (x1 - x0) / len(runs)
        for i, (label, result) in enumerate(runs):
            bx = x0 + i * width + width * 0.15
            by = y1 - (y1 - y0) * result.throughput / top
            draw.rectangle([bx, by, bx + width * 0.7, y1], fill=BLUE)
            draw.text((bx, by - 14), f"{result.throughput:,.0f}", fill=(0, 0, 0))
            short = (label.replace("demo shop, ", "").replace(" stored conversations", " stored")
                     .replace("-product catalog, empty database", " products"))
            draw.text((bx, y1 + 6 + 14 * (i % 2)), short, fill=GREY)
    # right: latency vs catalog size
    box = (W // 2 + PAD, PAD, W - PAD, H - PAD * 2)
    _axes(draw, box, "p99 per query in microseconds "
                     "(blue: search, orange: NLU parse; red line: 1 ms)")
    lat = report.latency
    if lat:
        x0, y0, x1, y1 = box
        top = max(1000.0, *(max(r.search_p99_us, r.nlu_p99_us) for r in lat)) * 1.1
        lo, hi = math.log10(min(r.products for r in lat)), math.log10(max(r.products for r in lat))
        span = (hi - lo) or 1.0

        def xy(products: int, value: float) -> tuple[float, float]:
            return (x0 + (x1 - x0) * (math.log10(products) - lo) / span * 0.9 + 10,
                    y1 - (y1 - y0) * value / top)

        limit = xy(lat[0].products, 1000)[1]
        draw.line([(x0, limit), (x1, limit)], fill=RED, width=1)
        for colour, values in ((BLUE, [r.search_p99_us for r in lat]),
                               (ORANGE, [r.nlu_p99_us for r in lat])):
            points = [xy(r.products, v) for r, v in zip(lat, values, strict=True)]
            draw.line(points, fill=colour, width=3)
            for (px, py), v in zip(points, values, strict=True):
                draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=colour)
                offset = -14 if colour == BLUE else 6
                draw.text((px + 6, py + offset), f"{v:.0f}", fill=colour)
        for r in lat:
            px, _ = xy(r.products, 0)
            draw.text((px - 10, y1 + 6), f"{r.products:,}", fill=GREY)
        draw.text((x0, y1 + 24), "products (log scale)", fill=GREY)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out
