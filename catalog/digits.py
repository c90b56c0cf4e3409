"""The one table of non-ASCII decimal digits the shops' languages write, for str.translate.

Devanagari (Hindi), Bengali, Arabic-Indic and Eastern Arabic-Indic (Persian, Urdu). Search,
the number parser and the engine's numbered choices all read digits through it.
"""

from __future__ import annotations

from typing import Final

# code point → ASCII digit; str.isdigit() is not used because it also accepts "²" and "①"
DIGITS: Final[dict[int, str]] = {
    **{0x0966 + i: str(i) for i in range(10)},  # Devanagari
    **{0x09E6 + i: str(i) for i in range(10)},  # Bengali
    **{0x0660 + i: str(i) for i in range(10)},  # Arabic-Indic
    **{0x06F0 + i: str(i) for i in range(10)},  # Eastern Arabic-Indic
}
