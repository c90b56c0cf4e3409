"""Every case ``haat fuzz`` has ever found is replayed here: a clean answer, and fast.

The corpus (tests/fuzz_corpus/) holds what the fuzzer found, 5xx answers and slow ones,
each as the request it sent; ``haat fuzz`` adds a file there for every new finding. The
first 162 were found by ``haat fuzz --seed 7`` on the code before issue 15's fixes (500s
on six routes). Each case is signed again with this test's secrets, as the fuzzer signed it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from config.clock import Clock
from config.settings import Settings
from tests.conftest import AiohttpClient, Shopper
from tests.e2e.conftest import payment_reply, place_order, start_live, token_of
from webhooks.fuzz import DEFAULT_CORPUS, Secrets, case_from_record, fire

RAZORPAY_SECRET = "razorpay-corpus-secret"


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(DEFAULT_CORPUS.glob("*.json"))]


def test_the_corpus_is_there_and_covers_the_routes_that_failed() -> None:
    routes = {record["route"] for _, record in _corpus()}
    assert len(_corpus()) >= 162
    assert {"POST /webhooks/whatsapp", "POST /webhooks/twilio", "POST /webhooks/simulator",
            "POST /webhooks/payments/sandbox", "POST /webhooks/payments/razorpay",
            "POST /pay/{token}/sandbox"} <= routes


async def test_every_case_the_fuzzer_found_is_answered_cleanly_and_fast(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        database_url: str) -> None:
    """On SQLite and on PostgreSQL (whose text and VARCHAR columns refuse more: NUL, length)."""
    live = await start_live(aiohttp_client, settings.with_(
        database_url=database_url).with_env(RAZORPAY_WEBHOOK_SECRET=RAZORPAY_SECRET), clock)
    base = str(live.make_url("")).rstrip("/")
    tokens = [token_of(payment_reply(await place_order(Shopper(live, f"+91900000050{n}")))["link"])
              for n in range(2)]
    keys = Secrets(app_secret=settings.env.get("WHATSAPP_APP_SECRET") or "",
                   verify_token=settings.env.get("WHATSAPP_VERIFY_TOKEN") or "",
                   twilio_token=settings.env.get("TWILIO_AUTH_TOKEN") or "",
                   sandbox=settings.env.get("HAAT_SANDBOX_SECRET", ""), razorpay=RAZORPAY_SECRET,
                   simulator=settings.env.get(
                       "HAAT_SIMULATOR_TOKEN", ""), admin=settings.admin_token or "")
    rng = random.Random(0)
    bad = []
    for name, record in _corpus():
        status, seconds, _ = await fire(live.session, base, case_from_record(record), keys,
                                        tokens, rng)
        if not 0 < status < 500 or seconds > 2.0:
            bad.append((name, status, round(seconds, 2)))
    assert bad == []


def test_corpus_files_name_their_route(tmp_path: Path) -> None:
    """A new finding is written where this test reads (haat fuzz --corpus default)."""
    from webhooks.fuzz import Case, _write_corpus, case_record

    [path] = _write_corpus([case_record(Case("POST /webhooks/twilio", "POST",
                                             "/webhooks/twilio", b"x" * 5000, "twilio"),
                                        500, 0.1)], tmp_path)
    assert path.name.startswith("webhooks_twilio-")
    assert case_from_record(json.loads(path.read_text())).body == b"x" * 5000
