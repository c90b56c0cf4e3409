"""Every POST route refuses a request without its credential, and with an empty one.

The routes come from the running app's router (every mounted channel, every configured
payment provider, the pay page and the merchant API), not from a hand-written list, so a
route added later is covered the day it is mounted. Found missing by issue 20: an unsigned
Twilio post was accepted and no test sent one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from tests.conftest import SIM_TOKEN, Shopper
from tests.e2e.conftest import payment_reply, place_order, token_of
from webhooks import keys as k

# every header any route reads a credential from, sent empty
CREDENTIAL_HEADERS = ("Authorization", "X-Hub-Signature-256", "X-Twilio-Signature",
                      "X-Razorpay-Signature", "Stripe-Signature", "X-Haat-Signature")
CLOUD_BODY = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
    "field": "messages", "value": {"messaging_product": "whatsapp",
                                   "metadata": {"display_phone_number": "15550001111",
                                                "phone_number_id": "1"},
                                   "messages": [{"from": "919000000001", "id": "wamid.X",
                                                 "timestamp": "1", "type": "text",
                                                 "text": {"body": "hi"}}]}}]}]}


def _all_providers(settings: Settings) -> Settings:
    return settings.with_env(RAZORPAY_KEY_ID="rzp_test_x", RAZORPAY_KEY_SECRET="s",
                             RAZORPAY_WEBHOOK_SECRET="w", STRIPE_SECRET_KEY="sk_test_x",
                             STRIPE_WEBHOOK_SECRET="whsec_x")


async def _a_pay_token(client: TestClient[Any, Any]) -> str:
    """A real order's pay-page token: the routes under it must find the order first."""
    reply = payment_reply(await place_order(Shopper(client), "2 samosa"))
    return token_of(reply["link"])


async def test_every_post_route_refuses_missing_and_empty_credentials(
        aiohttp_client: Any, settings: Settings, clock: Any) -> None:
    from webhooks.app import create_app

    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(_all_providers(settings), clock=clock))
    token, order = await _a_pay_token(client), "ORD-1001"
    providers = sorted(client.app[k.PROVIDERS])
    assert {"sandbox", "razorpay", "stripe"} <= set(providers)
    paths: list[str] = []
    for route in client.app.router.routes():
        if route.method != "POST":
            continue
        template = route.resource.canonical if route.resource else ""
        if "{provider}" in template:
            paths += [template.replace("{provider}", p) for p in providers]
        else:
            path = template.replace("{token}", token).replace("{order}", order)
            # any other placeholder (a broadcast's id…): a value the router matches (braces
            # never match a segment, which would answer 404 before any credential check)
            paths.append(re.sub(r"\{[^}]+\}", "x1", path))
    assert "/webhooks/twilio" in paths and "/webhooks/whatsapp" in paths, paths
    answered: dict[tuple[str, str], int] = {}
    for path in paths:
        body = json.dumps(CLOUD_BODY if "whatsapp" in path else {
            "from": "+919000000001", "id": "x1", "text": "hi", "outcome": "success",
            "status": "shipped", "amount": "1.00"}).encode()
        for case, headers in (("missing", {}),
                              ("empty", dict.fromkeys(CREDENTIAL_HEADERS, ""))):
            response = await client.post(path, data=body, headers={
                "Content-Type": "application/json", **headers})
            answered[(path, case)] = response.status
    refused = {key: status for key, status in answered.items() if status not in (401, 403)}
    assert not refused, refused
    # the same routes answer a correctly credentialled request (the check is not "refuse all")
    ok = await client.post("/webhooks/simulator", json={"from": "+919000000001", "id": "y1",
                                                         "text": "hi"},
                           headers={"Authorization": f"Bearer {SIM_TOKEN}"})
    assert ok.status == 200
