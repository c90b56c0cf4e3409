"""Every intent backend keeps the same protocol contract (docs/DESIGN.md §2: one suite per
extension).

The suite runs every backend of ``bot/nlu/registry.py``; one that talks to a server runs
against its fake (``tests/fakes/<name>.py``, ``start_for_contract``): Rasa's on loopback.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.nlu.base import ENTITY_TYPES, INTENTS, IntentBackend, ParseContext, Understanding
from bot.nlu.builtin import BuiltinBackend, build_builtin
from bot.nlu.rasa_http import RasaHttpBackend
from bot.nlu.registry import BACKEND_CLASSES, BACKENDS, BackendOptions, build_backend
from catalog.models import Shop
from tests.fakes.rasa import RASA_STATE, FakeRasaState, make_rasa_app, tea_shop

ServerFactory = Callable[..., Coroutine[Any, Any, TestServer]]


@pytest.fixture(scope="module")
def shop() -> Shop:
    return tea_shop()


@pytest.fixture(scope="module")
def builtin_backend(shop: Shop) -> BuiltinBackend:
    return build_builtin(shop)


@pytest.fixture
async def rasa_server(aiohttp_server: ServerFactory) -> TestServer:
    return await aiohttp_server(make_rasa_app())


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained weights shared by the module: each backend built trains only once."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(params=sorted(BACKENDS))
async def backend(
    request: pytest.FixtureRequest,
    shop: Shop,
    model_cache: Path,
    aiohttp_server: ServerFactory,
    session: aiohttp.ClientSession,
) -> IntentBackend:
    name: str = request.param
    env: dict[str, str] = {}
    if importlib.util.find_spec(f"tests.fakes.{name}") is not None:
        env = await importlib.import_module(f"tests.fakes.{name}").start_for_contract(
            aiohttp_server)
    return build_backend(name, shop, BackendOptions(session, 2.0, model_cache), env)


def check(result: Understanding) -> None:
    assert result.intent in INTENTS
    assert 0.0 <= result.confidence <= 1.0
    assert result.language in ("en", "hi", "bn", "ar")
    scores = [c for _, c in result.ranking]
    assert scores == sorted(scores, reverse=True)
    assert all(name in INTENTS and 0.0 <= c <= 1.0 for name, c in result.ranking)
    assert result.ranking and result.ranking[0][0] == result.intent
    assert all(e.type in ENTITY_TYPES for e in result.entities)
    assert all(i.quantity > 0 for i in result.items)


@pytest.mark.parametrize(
    "text",
    ["hello", "2 samosa", "how much is masala chai?", "মেনু দেখান", "أين طلبي",
     "mera order kahan hai", "मेनू", "", "   ", "🙂🙂🙂", "\u200f\u202e", "x" * 4000,
     "chai " * 800],
)
async def test_any_text_gives_a_valid_understanding(
    backend: IntentBackend, shop: Shop, text: str
) -> None:
    check(await backend.parse(text, ParseContext(shop=shop)))


async def test_language_falls_back_to_context_then_shop(
    backend: IntentBackend, shop: Shop
) -> None:
    assert (await backend.parse("🙂", ParseContext(shop=shop, language="bn"))).language == "bn"
    assert (await backend.parse("", ParseContext(shop=shop))).language == shop.default_language
    assert (await backend.parse("ধন্যবাদ", ParseContext(shop=shop))).language == "bn"


async def test_shortcut_payloads_are_exact(backend: IntentBackend, shop: Shop) -> None:
    result = await backend.parse(
        '/remove_from_cart{"product": "JALEBI"}', ParseContext(shop=shop)
    )
    check(result)
    assert (result.intent, result.confidence) == ("remove_from_cart", 1.0)
    assert [(i.sku, i.quantity, i.quantity_given) for i in result.items] == [("JALEBI", 1, False)]
    ranked = await backend.parse('/pay@0.8{"vpa": "a@okaxis"}', ParseContext(shop=shop))
    assert (ranked.intent, ranked.confidence, ranked.entity("vpa")) == ("pay", 0.8, "a@okaxis")


async def test_items_carry_catalog_skus(backend: IntentBackend, shop: Shop) -> None:
    result = await backend.parse("add 3 jalebi", ParseContext(shop=shop))
    check(result)
    assert [(i.sku, i.quantity) for i in result.items] == [("JALEBI", 3)]


async def test_items_alone_are_an_order_whatever_the_engine_says(
    backend: IntentBackend, shop: Shop
) -> None:
    """Our extractor overrules both engines the same way (bot/nlu/entities.order_intent)."""
    result = await backend.parse("jalebi x2", ParseContext(shop=shop))
    check(result)
    assert (result.intent, [(i.sku, i.quantity) for i in result.items]) == (
        "add_to_cart", [("JALEBI", 2)])


# ---- rasa_http specifics --------------------------------------------------------------
async def test_rasa_answer_is_mapped(
    rasa_server: TestServer, session: aiohttp.ClientSession, shop: Shop
) -> None:
    backend = RasaHttpBackend(str(rasa_server.make_url("")), session, 2.0)
    result = await backend.parse("please cancel it", ParseContext(shop=shop))
    assert (result.intent, result.confidence) == ("cancel_order", 0.91)
    assert rasa_server.app[RASA_STATE].texts == ["please cancel it"]
    shortcut = await backend.parse("/greet", ParseContext(shop=shop))
    assert shortcut.intent == "greet"
    assert rasa_server.app[RASA_STATE].texts == ["please cancel it"]  # never sent


@pytest.mark.parametrize(
    "state",
    [FakeRasaState(status=500), FakeRasaState(garbage=True), FakeRasaState(delay=1.0)],
    ids=["http-500", "garbage", "timeout"],
)
async def test_rasa_failure_falls_back_without_logging_text(
    aiohttp_server: ServerFactory,
    session: aiohttp.ClientSession,
    builtin_backend: BuiltinBackend,
    shop: Shop,
    state: FakeRasaState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await aiohttp_server(make_rasa_app(state))
    backend = RasaHttpBackend(str(server.make_url("")), session, 0.2, builtin_backend)
    text = "secret-ish message: how much is samosa"
    result = await backend.parse(text, ParseContext(shop=shop))
    expected = await builtin_backend.parse(text, ParseContext(shop=shop))
    assert result == expected
    assert state.texts == [text]
    assert any(r.levelname == "WARNING" and "fallback" in r.getMessage() for r in caplog.records)
    assert all("samosa" not in r.getMessage() for r in caplog.records)


async def test_rasa_unreachable_without_fallback_is_out_of_scope(
    session: aiohttp.ClientSession, shop: Shop
) -> None:
    backend = RasaHttpBackend("http://127.0.0.1:9", session, 0.5)
    result = await backend.parse("hello", ParseContext(shop=shop))
    assert (result.intent, result.confidence) == ("out_of_scope", 0.0)


async def test_registry_builds_both_backends(
    session: aiohttp.ClientSession, shop: Shop
) -> None:
    assert [cls.name for cls in BACKEND_CLASSES] == list(BACKENDS)
    for cls in BACKEND_CLASSES:
        assert all(o.env.isupper() for o in cls.options) and cls.capabilities
    assert build_backend("builtin", shop).name == "builtin"
    rasa = build_backend("rasa", shop, BackendOptions(session, 0.5),
                         {"HAAT_RASA_URL": "http://127.0.0.1:9"})
    assert rasa.name == "rasa"
    with pytest.raises(ValueError, match="builtin"):
        build_backend("spacy", shop)
    with pytest.raises(ValueError, match="ClientSession"):
        build_backend("rasa", shop)
