"""A shop that takes cards in dirhams, through the real app and tests/fakes/stripe.py on
loopback: the Payment Link a shopper is sent, Stripe's signed webhook (forged, replayed and
redelivered ones too), the other link deactivated once the order is paid, a merchant's
refund and Stripe's refund webhook, and books that balance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from aiohttp.test_utils import TestClient

from config.settings import Settings
from tests.conftest import AiohttpClient, Shopper
from tests.e2e.conftest import OWNER, api_base_of, outbox, place_order, shop_copy, start_live
from tests.e2e.test_payments_e2e import _balanced, _events_stored, _orders, _texts
from tests.fakes.stripe import WEBHOOK_SECRET, FakeStripe


@asynccontextmanager
async def running_fake_stripe() -> AsyncIterator[tuple[FakeStripe, str]]:
    fake = FakeStripe()
    async with api_base_of(fake.build_app()) as base:
        yield fake, base


def _aed_shop(tmp_path: Path) -> Path:
    shop = shop_copy(tmp_path, provider="stripe", methods=["payment_link"])
    data = yaml.safe_load((shop / "shop.yaml").read_text(encoding="utf-8"))
    data["currency"] = "AED"
    (shop / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                    encoding="utf-8")
    return shop


async def _post(live: TestClient[Any, Any], body: bytes, headers: dict[str, str]) -> Any:
    response = await live.post("/webhooks/payments/stripe", data=body, headers=headers)
    return response.status, await response.json()


async def test_an_aed_shop_is_paid_closed_and_refunded_through_stripe(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    async with running_fake_stripe() as (fake, api_base):
        live = await start_live(aiohttp_client, settings.with_(
            shop_dir=_aed_shop(tmp_path), simulator_owner=True).with_env(
            STRIPE_SECRET_KEY=fake.secret_key, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_API_BASE_URL=api_base))
        buyer = Shopper(live, "+971500000713")
        owner = Shopper(live, OWNER)
        replies = await place_order(buyer)
        (first,) = fake.links
        offered = [r for r in replies if r.get("link")]
        assert offered and offered[-1]["link"] == fake.links[first]["url"]
        [order] = await _orders(live)
        assert order["currency"] == "AED"
        created = next(r for r in fake.requests if r.path == "/v1/payment_links")
        price = created.form["line_items"]["0"]["price_data"]
        assert price["currency"] == "aed"
        assert price["unit_amount"] == str(order["total_minor"])  # fils, an integer
        await buyer.send("pay")  # a second link for the same order
        first, second = list(fake.links)

        intent = fake.pay_link(first)  # the shopper pays on Stripe's page
        body = fake.event("checkout.session.completed", fake.session_for(intent))
        forged = fake.signed(body, secret="whsec_not_the_endpoint_secret")
        assert (await _post(live, body, forged))[0] == 403
        replayed = fake.signed(body, at=1_700_000_000)  # a capture of an old delivery
        assert (await _post(live, body, replayed))[0] == 403
        assert await _events_stored(live) == 0
        status, answer = await _post(live, body, fake.signed(body))
        assert (status, answer) == (200, {"received": 1, "applied": 1, "rejected": 0})
        status, answer = await _post(live, body, fake.signed(body))  # Stripe retries
        assert status == 200 and answer["applied"] == 0

        [order] = await _orders(live)
        assert order["status"] == "paid"
        for _ in range(100):  # the other link is deactivated by a job after the commit
            if fake.links[second]["active"] is False:
                break
            await asyncio.sleep(0.05)
        assert fake.links[second]["active"] is False
        assert fake.links[first]["active"] is True  # the paid one is spent already

        reply = await owner.text_of("refund ORD-1001 10")
        [refund] = fake.refunds.values()
        assert (refund["payment_intent"], refund["amount"], refund["currency"]) == (
            intent, 1000, "aed"), reply
        told = _texts(await outbox(live, buyer.phone))
        assert any("refund" in t.lower() for t in told), told
        done = fake.event("refund.updated", refund)
        status, answer = await _post(live, done, fake.signed(done))
        assert status == 200 and answer["rejected"] == 0
        await _balanced(live)


def test_haat_check_reads_the_shops_payments_against_what_stripe_declares(
        tmp_path: Path) -> None:
    from tests.e2e.test_multishop_and_cli import _haat

    shop = _aed_shop(tmp_path)
    clean = {key: "" for key in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")}
    unset = _haat("check", str(shop), env=clean)
    assert unset.returncode == 0, unset.stdout + unset.stderr
    assert "payments via stripe" in unset.stdout
    assert "STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET are not set" in unset.stdout
    ready = _haat("check", str(shop), env={"STRIPE_SECRET_KEY": "sk_test_x",
                                           "STRIPE_WEBHOOK_SECRET": "whsec_x"})
    assert ready.returncode == 0 and "not set" not in ready.stdout, ready.stdout
    data = yaml.safe_load((shop / "shop.yaml").read_text(encoding="utf-8"))
    data["payments"]["methods"] = ["payment_link", "upi_link"]  # Stripe makes no UPI links
    data["currency"] = "INR"  # (in AED, UPI is refused first: UPI moves rupees only)
    (shop / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                    encoding="utf-8")
    wrong = _haat("check", str(shop), env=clean)
    assert wrong.returncode == 1
    assert "payment method 'upi_link' is not something provider stripe can do" in wrong.stdout
    data["payments"]["methods"] = ["payment_link", "collect"]  # nor UPI collect requests
    (shop / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                    encoding="utf-8")
    wrong = _haat("check", str(shop), env=clean)
    assert wrong.returncode == 1  # the loader knows it from the registry, at its line
    assert ("shop.yaml:" in wrong.stdout and "provider stripe cannot send collect requests: "
            "remove 'collect' or use a provider that can (sandbox, razorpay)" in wrong.stdout)
