"""GST on a receipt line, in integer minor units (docs/MERCHANT_GUIDE.md "Receipts").

Catalog prices are what the shopper pays, tax included, so the tax is taken out of each
line's amount rather than added to it: the order's total (what was paid) never moves.

Rounding, per line, half up to the minor unit:

* intra-state (CGST + SGST): each half = round(gross × (rate/2) / (100 % + rate)); the
  two halves are equal by construction; taxable value = gross − CGST − SGST.
* inter-state (IGST): IGST = round(gross × rate / (100 % + rate)); taxable = gross − IGST.

So taxable + tax = gross exactly on every line, the receipt's totals are the sums of its
lines, and they add up to the order's total. tests/unit/test_receipts.py checks it for
every rate and many amounts.
"""

from __future__ import annotations

from dataclasses import dataclass

BASIS = 10_000  # rates are basis points: 1800 = 18 %


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest integer, halves up (both non-negative)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up takes a non-negative numerator")
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True, slots=True)
class LineTax:
    gross: int  # the line as paid, tax included
    rate_bp: int
    taxable: int
    cgst: int = 0
    sgst: int = 0
    igst: int = 0

    @property
    def tax(self) -> int:
        return self.cgst + self.sgst + self.igst


def split_inclusive(gross: int, rate_bp: int, *, inter_state: bool) -> LineTax:
    """Take GST at ``rate_bp`` out of a tax-inclusive ``gross`` (see the module docstring)."""
    if gross < 0 or rate_bp < 0:
        raise ValueError("a receipt line and its rate are never negative")
    if inter_state:
        igst = round_half_up(gross * rate_bp, BASIS + rate_bp)
        return LineTax(gross, rate_bp, gross - igst, igst=igst)
    half = round_half_up(gross * rate_bp, 2 * (BASIS + rate_bp))
    return LineTax(gross, rate_bp, gross - 2 * half, cgst=half, sgst=half)


def rate_text(rate_bp: int) -> str:
    """``1800`` → ``"18%"``, ``250`` → ``"2.5%"``, ``25`` → ``"0.25%"``."""
    whole, rest = divmod(rate_bp, 100)
    return f"{whole}%" if not rest else f"{whole}.{str(rest).rjust(2, '0').rstrip('0')}%"
