"""WhatsApp and Twilio message limits, and trimming that never rejects a reply.

Limits come from docs/DESIGN.md §5.5 (Meta interactive docs, pywa, the Node SDK). The
Graph API rejects an over-long field with a 400, so every outbound string goes through
:func:`trim` first: a long reply loses its tail behind an ellipsis instead of being lost.
Lengths are counted in Python characters (code points).
"""

from __future__ import annotations

from typing import Final

ELLIPSIS: Final = "…"

TEXT_BODY: Final = 4096  # text message body
INTERACTIVE_BODY: Final = 1024  # body of button / list / product / order_details messages
HEADER_TEXT: Final = 60
FOOTER_TEXT: Final = 60
CAPTION: Final = 1024  # image caption (commonly quoted; not verified by us)

MAX_BUTTONS: Final = 3
BUTTON_TITLE: Final = 20
BUTTON_ID: Final = 256

MAX_LIST_ROWS: Final = 10  # across all sections
MAX_LIST_SECTIONS: Final = 10
LIST_BUTTON: Final = 20
SECTION_TITLE: Final = 24
ROW_TITLE: Final = 24
ROW_DESCRIPTION: Final = 72
ROW_ID: Final = 200

MAX_PRODUCTS: Final = 30  # multi-product message, all sections together
MAX_PRODUCT_SECTIONS: Final = 10

ORDER_DESCRIPTION: Final = 120  # order_status description
REFERENCE_ID: Final = 35
ORDER_ITEM_NAME: Final = 60  # order_details item names and amount descriptions

TWILIO_BODY: Final = 1600  # Twilio's limit for one message body


def trim(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def trim_id(value: str, limit: int) -> str:
    """Ids are cut without an ellipsis: they are machine payloads, not prose."""
    return value[:limit]


def unique_titles(titles: list[str], limit: int) -> list[str]:
    """Trimmed titles, made unique (Meta rejects duplicate button titles) by a suffix."""
    seen: set[str] = set()
    out: list[str] = []
    for title in titles:
        candidate = trim(title, limit) or "-"
        n = 2
        while candidate in seen:
            suffix = f" {n}"
            candidate = trim(title, limit - len(suffix)) + suffix
            n += 1
        seen.add(candidate)
        out.append(candidate)
    return out
