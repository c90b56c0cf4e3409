"""A stand-in Rasa server (``POST /model/parse``) and the tea shop the NLU tests use.

The fake speaks Rasa 3.x's response shape exactly (``text``, ``intent{name,confidence}``,
``intent_ranking``, ``entities[{entity,value,start,end,extractor}]``) and answers from a tiny
keyword table: enough to prove the HTTP backend maps the contract, not to understand text.
It can be told to be slow or to fail, to exercise the fallback.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from catalog.models import (
    Catalog,
    Category,
    OpeningHours,
    Payments,
    Product,
    Shop,
    Text,
)
from catalog.money import Money

KEYWORDS: tuple[tuple[str, str], ...] = (
    ("cancel", "cancel_order"),
    ("how much", "product_price"),
    ("price", "product_price"),
    ("menu", "browse_catalog"),
    ("cart", "view_cart"),
    ("pay", "pay"),
    ("thank", "thanks"),
    ("bye", "goodbye"),
    ("hello", "greet"),
    ("hi", "greet"),
    ("yes", "affirm"),
    ("no", "deny"),
    ("add", "add_to_cart"),
)
_NUMBER = re.compile(r"\d+")


@dataclass
class FakeRasaState:
    """Knobs and a record of what the fake received."""

    delay: float = 0.0  # seconds before answering (for timeouts)
    status: int = 200  # anything else: answer with this status and no JSON
    garbage: bool = False  # answer 200 with a body that is not Rasa's shape
    texts: list[str] = field(default_factory=list)


RASA_STATE = web.AppKey("rasa_state", FakeRasaState)


def fake_parse(text: str) -> dict[str, Any]:
    """Rasa's /model/parse answer for ``text`` from the keyword table."""
    low = text.casefold()
    words = set(re.findall(r"\w+", low))
    intent, confidence = "out_of_scope", 0.35
    for key, name in KEYWORDS:
        if (" " in key and key in low) or key in words:
            intent, confidence = name, 0.91
            break
    others = sorted({n for _, n in KEYWORDS if n != intent} | {"out_of_scope"} - {intent})
    ranking = [{"name": intent, "confidence": confidence}]
    rest = (1.0 - confidence) / len(others)
    ranking += [{"name": n, "confidence": rest} for n in others[:9]]
    entities = [
        {"entity": "quantity", "value": m.group(0), "start": m.start(), "end": m.end(),
         "extractor": "RegexEntityExtractor"}
        for m in _NUMBER.finditer(text)
    ]
    return {"text": text, "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": ranking, "entities": entities}


async def _parse(request: web.Request) -> web.StreamResponse:
    state = request.app[RASA_STATE]
    body = await request.json()
    text = str(body.get("text", ""))
    state.texts.append(text)
    if state.delay:
        await asyncio.sleep(state.delay)
    if state.status != 200:
        return web.Response(status=state.status, text="model not ready")
    if state.garbage:
        return web.json_response({"unexpected": True})
    return web.json_response(fake_parse(text))


async def _status(request: web.Request) -> web.StreamResponse:
    return web.json_response({"model_file": "fake.tar.gz", "num_active_training_jobs": 0})


def make_rasa_app(state: FakeRasaState | None = None) -> web.Application:
    app = web.Application()
    app[RASA_STATE] = state or FakeRasaState()
    app.router.add_post("/model/parse", _parse)
    app.router.add_get("/status", _status)
    return app


# ---- the tea shop ---------------------------------------------------------------------
_TEA_PRODUCTS: tuple[tuple[str, str, dict[str, str], tuple[str, ...], str], ...] = (
    ("MASALA-CHAI", "tea",
     {"en": "Masala Chai", "hi": "मसाला चाय", "bn": "মশলা চা", "ar": "شاي بالبهارات"},
     ("masala tea", "cutting chai", "chai"), "20.00"),
    ("COFFEE", "tea", {"en": "Coffee", "hi": "कॉफी", "bn": "কফি", "ar": "قهوة"}, (), "40.00"),
    ("LASSI", "tea", {"en": "Lassi", "hi": "लस्सी", "bn": "লস্যি", "ar": "لبن"},
     ("mango lassi",), "50.00"),
    ("SAMOSA", "snacks", {"en": "Samosa", "hi": "समोसा", "bn": "সমোসা", "ar": "سمبوسة"},
     (), "15.00"),
    ("SINGARA", "snacks", {"en": "Singara", "hi": "सिंघाड़ा", "bn": "সিঙ্গারা"},
     ("shingara",), "10.00"),
    ("VEG-ROLL", "snacks", {"en": "Veg Roll", "hi": "वेज रोल", "bn": "ভেজ রোল",
                            "ar": "رول خضار"}, (), "60.00"),
    ("EGG-ROLL", "snacks", {"en": "Egg Roll", "hi": "एग रोल", "bn": "এগ রোল",
                            "ar": "رول البيض"}, (), "70.00"),
    ("ROSOGOLLA", "sweets", {"en": "Rosogolla", "hi": "रसगुल्ला", "bn": "রসগোল্লা"},
     ("rasgulla",), "12.00"),
    ("MISHTI-DOI", "sweets", {"en": "Mishti Doi", "hi": "मिष्टी दोई", "bn": "মিষ্টি দই"},
     ("sweet curd",), "45.00"),
    ("JALEBI", "sweets", {"en": "Jalebi", "hi": "जलेबी", "bn": "জিলিপি", "ar": "جلابي"},
     (), "30.00"),
    ("ALOO", "grocery", {"en": "Aloo", "hi": "आलू", "bn": "আলু", "ar": "بطاطا"},
     ("potato",), "35.00"),
    ("ILISH", "grocery", {"en": "Ilish", "hi": "इलिश", "bn": "ইলিশ"}, ("hilsa",), "900.00"),
)
_GENERATED_WORDS = (
    "Kesar", "Badam", "Pista", "Gur", "Nolen", "Kalo", "Jeera", "Pudina", "Aam", "Narkel",
    "Chhena", "Khoya", "Malai", "Dalim", "Kancha", "Lebu", "Ada", "Elaichi", "Tulsi", "Rose",
)
_GENERATED_KINDS = (
    "Sandesh", "Barfi", "Pitha", "Nimki", "Toast", "Cutlet", "Kachori", "Halwa", "Sherbet",
    "Pakora", "Chop", "Laddu", "Paratha", "Kulfi", "Murabba", "Chutney", "Papad", "Biscuit",
)


def tea_shop(extra_products: int = 0, languages: tuple[str, ...] = ("en", "hi", "bn", "ar"),
             ) -> Shop:
    """The tea shop of the NLU tests and bench; ``extra_products`` adds generated ones."""
    products = [
        Product(sku, cat, Text.of(names), Money.parse(price, "INR"), aliases)
        for sku, cat, names, aliases, price in _TEA_PRODUCTS
    ]
    for k in range(extra_products):
        word = _GENERATED_WORDS[k % len(_GENERATED_WORDS)]
        kind = _GENERATED_KINDS[(k // len(_GENERATED_WORDS)) % len(_GENERATED_KINDS)]
        name = f"{word} {kind}" + (f" {k // 360 + 1}" if k >= 360 else "")
        products.append(
            Product(f"GEN-{k}", "more", Text.of({"en": name}), Money(1000 + k, "INR"))
        )
    categories = tuple(
        Category(cid, Text.of(cid.title()))
        for cid in ("tea", "snacks", "sweets", "grocery", "more")
    )
    return Shop(
        id="tea", name=Text.of("Mitra Tea House"), phone="+919800000000", currency="INR",
        timezone="Asia/Kolkata", languages=languages, hours=OpeningHours.always(),
        owners=("+919811111111",), payments=Payments(),
        catalog=Catalog(categories, tuple(products)),
    )


async def start_for_contract(serve: Any) -> dict[str, str]:
    """The environment of a ``rasa`` backend pointed at this fake on loopback (the intent
    backend contract suite finds this function by the backend's name)."""
    server = await serve(make_rasa_app())
    return {"HAAT_RASA_URL": str(server.make_url(""))}
