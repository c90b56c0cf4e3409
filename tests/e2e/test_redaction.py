"""No message text, phone number, token or secret in any log line, at DEBUG, tracebacks too.

Normal and poison traffic goes through every channel, the payment page and the admin API of
the real app while every logger records at DEBUG; then each text, phone, token and secret
that was sent is looked for in every captured line (webhooks/redaction.py).
"""

from __future__ import annotations

import logging
import random
import string
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from tests.conftest import ADMIN_TOKEN, AiohttpClient, Shopper
from tests.e2e.conftest import payment_reply, place_order, token_of
from tests.sim import cloud_text, dumps, signed_cloud_request, signed_twilio_request, twilio_text
from webhooks.redaction import Redactor, safe_traceback, secrets_of

TWILIO_URL = "https://shop.example.test/webhooks/twilio"


def _word(rng: random.Random) -> str:
    """A text no log line could contain by chance (letters only: no digit pattern hides it)."""
    return "zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(14))


@pytest.fixture
async def app_client(aiohttp_client: AiohttpClient, settings: Settings,
                     clock: Clock) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(
        settings.with_env(RAZORPAY_WEBHOOK_SECRET="razorpay-hook-secret",
                          RAZORPAY_KEY_SECRET="razorpay-key-secret"), clock=clock))


async def test_nothing_sent_appears_in_any_log_line(
        app_client: TestClient[Any, Any], settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rng = random.Random(15)
    texts: list[str] = []
    phones = [f"+9190{rng.randrange(10**7, 10**8)}" for _ in range(4)]

    # the simulator: a whole order, so there is a payment token too
    shopper = Shopper(app_client, phones[0])
    for _ in range(2):
        texts.append(_word(rng))
        await shopper.send(texts[-1])
    token = token_of(payment_reply(await place_order(shopper))["link"])
    await app_client.get(f"/pay/{token}")
    await app_client.get(f"/pay/{token}/status")
    await app_client.get(f"/pay/{token}/qr.png")
    await app_client.get(f"/pay/{token}x/nothing")
    await app_client.get("/webhooks/simulator/outbox", params={"to": phones[0]},
                         headers={"Authorization":
                                  f"Bearer {settings.env.get('HAAT_SIMULATOR_TOKEN')}"})
    # the Cloud API: a text, a poison message beside it, a bad signature
    texts.append(_word(rng))
    envelope = cloud_text(texts[-1], from_=phones[1])
    body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET") or "", envelope)
    assert (await app_client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
    texts.append(_word(rng))
    poison = dumps(cloud_text(texts[-1] + "\\ud800", from_=phones[2])).replace(
        b'"timestamp"', b'"timestamp":1E+1000000,"x"')
    body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET") or "", poison)
    assert (await app_client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 400
    await app_client.post("/webhooks/whatsapp", data=body, headers={
        "X-Hub-Signature-256": "sha256=" + "0" * 64})
    # Twilio: a text and a form with NUL in it
    texts.append(_word(rng))
    form = twilio_text(texts[-1], WaId=phones[3].removeprefix("+"),
                       From=f"whatsapp:{phones[3]}")
    body, headers = signed_twilio_request(
        TWILIO_URL, settings.env.get("TWILIO_AUTH_TOKEN", ""), form)
    assert (await app_client.post("/webhooks/twilio", data=body, headers=headers)).status == 200
    # the admin API, with the shopper's phone in the query
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    await app_client.get("/api/orders", params={"customer": phones[0]}, headers=admin)
    await app_client.get("/api/orders", headers={"Authorization": "Bearer wrong-guess-token"})
    # a traceback whose exception message quotes the input, as a parser's would
    try:
        raise ValueError(f"cannot parse {texts[0]} from {phones[0]} at /pay/{token}")
    except ValueError:
        logging.getLogger("webhooks.routes").exception(
            "failed for %s with Bearer %s", phones[1], settings.admin_token)

    assert len(caplog.records) > 10  # the traffic was logged, at DEBUG
    lines = caplog.text + "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records)
    secrets = [s for s in secrets_of(settings)
               if s] + ["razorpay-hook-secret", "razorpay-key-secret", "wrong-guess-token"]
    leaks = [s for s in [*texts, *phones, *(p.removeprefix("+") for p in phones), token,
                         *secrets] if s in lines]
    assert leaks == []
    assert "Traceback" in lines and "ValueError: <redacted>" in lines


def test_the_redactor_keeps_what_is_useful() -> None:
    redactor = Redactor()
    redactor.add_secrets(["s3cret-value", None, "ab"])
    line = redactor.redact("GET /pay/AbC_123-xyzxyzxyzxyzxyz/status 200 for whatsapp:+91 98765 "
                           "43210 wamid.HBgLMTY0NjcwNDM1OTUVAgA= Bearer tok.en s3cret-value "
                           "ORD-1042 took 12 ms; ab")
    assert line == ("GET /pay/<token>/status 200 for whatsapp:<number> wamid.<id> Bearer "
                    "<redacted> <secret> ORD-1042 took 12 ms; ab")


def test_a_safe_traceback_has_frames_and_types_only() -> None:
    said, phone = "the shopper" + "'s text", "+91987" + "6543210"  # not in the source lines
    try:
        try:
            raise KeyError(said)
        except KeyError as inner:
            raise RuntimeError(phone) from inner
    except RuntimeError as exc:
        text = safe_traceback((type(exc), exc, exc.__traceback__))
    assert "shopper" not in text and "919876543210" not in text
    assert "builtins.KeyError: <redacted>" in text and "builtins.RuntimeError" in text
    assert "test_a_safe_traceback_has_frames_and_types_only" in text
