"""Order cards and the address form on the Cloud API, as Meta documents them, against a fake
Graph API that refuses what a number without commerce set-up cannot send (134011, 131009).

A shopper in India checks out over signed webhooks: the address is asked with WhatsApp's
``address_message`` form and comes back as its ``nfm_reply``; the ``order_details`` card is
physical goods, carries the synced ``catalog_id``, the address as beneficiary, tax and
shipping itemised, and the shop's ``payment_settings``; paying moves the card to
``processing`` with ``order_status``. When Meta refuses the card or the form, the shopper
gets the plain version: text, link and the UPI QR.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from tests.conftest import AiohttpClient
from tests.e2e.conftest import SANDBOX_AUTH, start_live
from tests.fakes.graph_api import ACCESS_TOKEN
from tests.fakes.graph_catalog import FakeGraphCatalog, run_fake_graph_catalog
from tests.sim import (
    cloud_button,
    cloud_message,
    cloud_status,
    cloud_text,
    signed_cloud_request,
)
from webhooks import keys as k
from webhooks.meta_catalog import run_cli_sync

SHOP = Path(__file__).resolve().parent.parent / "fixtures" / "shops" / "commerce"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "channels"
CATALOG_ID = "354160437058781"
CUSTOMER = "919000000777"
FORM = {"name": "Asha Rao", "phone_number": "+919000000777", "in_pin_code": "700091",
        "house_number": "12", "building_name": "Lake View", "address": "Sector 1",
        "landmark_area": "Salt Lake", "city": "Kolkata", "state": "West Bengal"}


@pytest.fixture
async def meta() -> AsyncIterator[FakeGraphCatalog]:
    async with run_fake_graph_catalog(CATALOG_ID) as fake:
        yield fake


def _shop(tmp_path: Path, extra: str = "") -> Path:
    folder = tmp_path / "commerce"
    shutil.copytree(SHOP, folder)
    if extra:
        shop_yaml = folder / "shop.yaml"
        shop_yaml.write_text(shop_yaml.read_text().replace(
            "whatsapp_commerce:\n", "whatsapp_commerce:\n" + extra))
    return folder


def _configured(settings: Settings, meta: FakeGraphCatalog, shop: Path) -> Settings:
    return settings.with_(shop_dir=shop).with_env(
        WHATSAPP_API_BASE_URL=meta.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        HAAT_CATALOG_POLL_SECONDS="0")


def _address_reply(form: dict[str, str]) -> dict[str, Any]:
    """The form's answer in the shape of the nfm_reply fixture (a Flow's answer), named
    ``address_message`` with the fields under ``values`` (Meta's address-messages page)."""
    fixture = json.loads((FIXTURES / "cloud_msg_interactive_nfm_reply__pywa.json").read_text())
    interactive = fixture["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]
    interactive["nfm_reply"] = {"name": "address_message", "body": "Address submitted",
                                "response_json": json.dumps({"values": form})}
    return cloud_message("interactive", interactive, from_=CUSTOMER)


class Chat:
    def __init__(self, client: TestClient[Any, Any], settings: Settings,
                 meta: FakeGraphCatalog) -> None:
        self.client, self.settings, self.meta = client, settings, meta
        self.seen = 0

    async def send(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """Post one signed webhook; the messages that went to Graph because of it."""
        body, headers = signed_cloud_request(self.settings.env["WHATSAPP_APP_SECRET"], payload)
        assert (await self.client.post("/webhooks/whatsapp", data=body,
                                       headers=headers)).status == 200
        return await self.sent()

    async def sent(self) -> list[dict[str, Any]]:
        await self.client.app[k.OUTBOX].drain()
        out = [r.json for r in self.meta.received if r.json is not None
               and "messaging_product" in r.json][self.seen:]
        self.seen += len(out)
        return out


def _interactive(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m["interactive"] for m in messages
            if m.get("type") == "interactive" and m["interactive"]["type"] == kind]


async def _checkout(chat: Chat) -> list[dict[str, Any]]:
    """Cart, checkout, the address form answered, confirm; what confirm sent."""
    await chat.send(cloud_text("2 samosa", from_=CUSTOMER))
    asked = await chat.send(cloud_text("checkout", from_=CUSTOMER))
    forms = _interactive(asked, "address_message")
    assert forms, asked
    summary = await chat.send(_address_reply(FORM))
    [button] = [b for m in _interactive(summary, "button") for b in m["action"]["buttons"]
                if b["reply"]["id"] == "confirm"]
    return await chat.send(cloud_button("confirm", button["reply"]["title"], from_=CUSTOMER))


async def test_the_card_follows_metas_documentation_and_moves_when_paid(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    configured = _configured(settings, meta, _shop(tmp_path))
    [report] = await run_cli_sync(configured)  # the shop's catalog is on Meta's side
    assert report.errors == {}
    client = await start_live(aiohttp_client, configured)
    chat = Chat(client, configured, meta)
    await chat.send(cloud_text("2 samosa", from_=CUSTOMER))
    asked = await chat.send(cloud_text("checkout", from_=CUSTOMER))
    [form] = _interactive(asked, "address_message")
    assert form["action"]["name"] == "address_message"
    assert form["action"]["parameters"]["country"] == "IN"
    assert form["action"]["parameters"]["values"]["phone_number"] == "+" + CUSTOMER
    summary = await chat.send(_address_reply(FORM))
    assert any("Kolkata" in m["body"]["text"] for m in _interactive(summary, "button"))
    [button] = [b for m in _interactive(summary, "button") for b in m["action"]["buttons"]
                if b["reply"]["id"] == "confirm"]
    sent = await chat.send(cloud_button("confirm", button["reply"]["title"], from_=CUSTOMER))
    [card] = _interactive(sent, "order_details")
    documented = json.loads((FIXTURES / "outbound_order_details_upi_intent_link__meta_docs"
                             ".json").read_text())["interactive"]["action"]["parameters"]
    params = card["action"]["parameters"]
    assert card["action"]["name"] == "review_and_pay"
    assert set(params) - {"beneficiaries"} <= set(documented)
    assert params["type"] == "physical-goods"
    assert params["order"]["catalog_id"] == CATALOG_ID
    assert [i["retailer_id"] for i in params["order"]["items"]] == ["SAMOSA"]
    [who] = params["beneficiaries"]
    assert (who["name"], who["city"], who["state"], who["postal_code"], who["country"]) == (
        "Asha Rao", "Kolkata", "West Bengal", "700091", "India")
    order = params["order"]
    assert order["tax"]["value"] == 0 and order["tax"]["description"]
    assert order["shipping"] == {"value": 3000, "offset": 100, "description": "Delivery"}
    assert order["subtotal"]["value"] == sum(i["amount"]["value"] * i["quantity"]
                                             for i in order["items"]) == 2500
    assert params["total_amount"] == {"value": 5500, "offset": 100}
    assert params["payment_settings"][0]["type"] == "upi_intent_link"

    token = await _token(client)
    response = await client.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                                 headers=SANDBOX_AUTH)
    assert response.status == 200
    [status] = _interactive(await chat.sent(), "order_status")
    assert status["action"]["parameters"]["reference_id"] == params["reference_id"]
    assert status["action"]["parameters"]["order"]["status"] == "processing"
    # the merchant ships it: the same card moves on
    moved = await chat.send(cloud_text("ship ORD-1001", from_="919811111112"))
    [shipped] = [m["interactive"] for m in moved if m.get("to") == CUSTOMER
                 and m.get("type") == "interactive"]
    assert shipped["type"] == "order_status"
    assert shipped["action"]["parameters"]["order"]["status"] == "shipped"


async def _token(client: TestClient[Any, Any]) -> str:
    response = await client.get("/api/orders", headers={
        "Authorization": f"Bearer {client.app[k.SETTINGS].admin_token}"})
    [order] = (await response.json())["orders"]
    request = await client.app[k.PAYMENTS].repo.request(order["payments"][0]["id"])
    assert request is not None
    return str(request.token)


async def test_without_a_synced_catalog_the_card_names_no_catalog(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    configured = _configured(settings, meta, _shop(tmp_path))
    chat = Chat(await start_live(aiohttp_client, configured), configured, meta)
    [card] = _interactive(await _checkout(chat), "order_details")
    order = card["action"]["parameters"]["order"]
    assert "catalog_id" not in order
    assert all("retailer_id" not in item for item in order["items"])


async def test_a_refused_card_becomes_text_link_and_qr(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    meta.payments_ready = False  # the number never accepted WhatsApp Payments' terms
    configured = _configured(settings, meta, _shop(tmp_path))
    chat = Chat(await start_live(aiohttp_client, configured), configured, meta)
    sent = await _checkout(chat)
    assert [m["interactive"]["type"] for m in meta.refused] == ["order_details"]
    assert not _interactive(sent, "order_details")
    [qr] = [m for m in sent if m.get("type") == "image"]
    assert qr["image"]["link"].endswith("/qr.png")
    link = qr["image"]["link"].removesuffix("/qr.png")
    assert link in qr["image"]["caption"]  # the words and the pay link ride with the QR


async def test_a_card_meta_fails_after_accepting_it_becomes_text_link_and_qr_once(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    """Meta may take a card and fail it later, in a status webhook: the shopper still gets
    a way to pay (webhooks/outbox.py ``_replace``), once, however often the status comes."""
    configured = _configured(settings, meta, _shop(tmp_path))
    client = await start_live(aiohttp_client, configured)
    chat = Chat(client, configured, meta)
    sent = await _checkout(chat)
    assert _interactive(sent, "order_details") and not meta.refused
    accepted = [r.json for r in meta.received if r.path.endswith("/messages")]
    index = next(i for i, m in enumerate(accepted) if m and m.get("type") == "interactive"
                 and m["interactive"]["type"] == "order_details")
    wamid = f"wamid.FAKE{index + 1:06d}"  # the fake's answer to its n-th accepted message
    for _ in range(2):  # Meta delivers a webhook again when it is unsure it arrived
        body, headers = signed_cloud_request(configured.env["WHATSAPP_APP_SECRET"], cloud_status(
            wamid, "failed", recipient=CUSTOMER, error_code=131009,
            error_title="Parameter value is not valid"))
        assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
    again = await chat.sent()
    assert not _interactive(again, "order_details")
    [qr] = [m for m in again if m.get("type") == "image"]
    link = qr["image"]["link"].removesuffix("/qr.png")
    assert link in qr["image"]["caption"]


async def test_a_refused_address_form_asks_in_text(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    meta.address_ready = False
    configured = _configured(settings, meta, _shop(tmp_path))
    chat = Chat(await start_live(aiohttp_client, configured), configured, meta)
    await chat.send(cloud_text("2 samosa", from_=CUSTOMER))
    asked = await chat.send(cloud_text("checkout", from_=CUSTOMER))
    assert [m["interactive"]["type"] for m in meta.refused] == ["address_message"]
    assert [m["type"] for m in asked] == ["text"]
    summary = await chat.send(cloud_text("12 Lake View, Salt Lake, Kolkata 700091",
                                         from_=CUSTOMER))
    [button] = [b for m in _interactive(summary, "button") for b in m["action"]["buttons"]
                if b["reply"]["id"] == "confirm"]
    sent = await chat.send(cloud_button("confirm", button["reply"]["title"], from_=CUSTOMER))
    [card] = _interactive(sent, "order_details")
    [who] = card["action"]["parameters"]["beneficiaries"]
    assert who["postal_code"] == "700091" and who["address_line1"].startswith("12 Lake View")


async def test_a_card_paid_through_razorpay_inside_whatsapp_is_booked_from_razorpay(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    """``card_payment: payment_gateway`` with Razorpay: the card carries the gateway's
    configuration and haat's reference in Razorpay's notes; Razorpay's signed
    ``payment.captured`` (its docs sample, for a payment made in the card) books it, and
    the card moves to processing. A digital-goods shop's card carries no beneficiary."""
    import hashlib
    import hmac

    from tests.e2e.conftest import running_fake_razorpay

    shop = _shop(tmp_path, "  goods_type: digital-goods\n  card_payment: payment_gateway\n"
                           "  gateway: razorpay\n  gateway_configuration: haat-live\n")
    shop_yaml = shop / "shop.yaml"
    shop_yaml.write_text(shop_yaml.read_text().replace(
        "  methods: [upi_link, payment_link]\n  provider: sandbox\n",
        "  methods: [payment_link]\n  provider: razorpay\n"))
    secret = "rzp-webhook-secret"
    async with running_fake_razorpay() as (razorpay, api_base):
        configured = _configured(settings, meta, shop).with_env(
            RAZORPAY_KEY_ID=razorpay.key_id, RAZORPAY_KEY_SECRET=razorpay.key_secret,
            RAZORPAY_WEBHOOK_SECRET=secret, RAZORPAY_API_BASE_URL=api_base)
        client = await start_live(aiohttp_client, configured)
        chat = Chat(client, configured, meta)
        [card] = _interactive(await _checkout(chat), "order_details")
        params = card["action"]["parameters"]
        documented = json.loads((FIXTURES / "outbound_order_details_payment_gateway_razorpay__"
                                 "meta_docs.json").read_text())["interactive"]["action"]
        [setting] = params["payment_settings"]
        [doc_setting] = documented["parameters"]["payment_settings"]
        assert set(setting["payment_gateway"]) == set(doc_setting["payment_gateway"])
        gateway = setting["payment_gateway"]
        assert (gateway["type"], gateway["configuration_name"]) == ("razorpay", "haat-live")
        reference = params["reference_id"]
        assert gateway["razorpay"]["notes"]["haat_ref"] == reference
        assert params["type"] == "digital-goods" and "beneficiaries" not in params

        # the shopper pays inside WhatsApp: Razorpay (not haat) made that payment
        sample = json.loads((FIXTURES.parent / "payments" / "razorpay" /
                             "docs__payment.captured__UPI.json").read_text())
        payment = sample["payload"]["payment"]["entity"]
        payment.update(amount=5500, base_amount=5500, notes={"haat_ref": reference},
                       id="pay_InWhatsApp0001", order_id="order_InWhatsApp01")
        body = json.dumps(sample).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        response = await client.post("/webhooks/payments/razorpay", data=body, headers={
            "Content-Type": "application/json", "X-Razorpay-Event-Id": "evt_InWhatsApp01",
            "X-Razorpay-Signature": signature})
        assert response.status == 200, await response.text()
        orders = await client.get("/api/orders", headers={
            "Authorization": f"Bearer {client.app[k.SETTINGS].admin_token}"})
        [order] = (await orders.json())["orders"]
        assert order["status"] == "paid"
        [status] = _interactive(await chat.sent(), "order_status")
        assert status["action"]["parameters"]["reference_id"] == reference


def test_a_razorpay_card_needs_the_razorpay_provider(tmp_path: Path) -> None:
    from webhooks.plugins import check_shop_with_warnings

    shop = _shop(tmp_path, "  card_payment: payment_gateway\n  gateway: razorpay\n"
                           "  gateway_configuration: haat-live\n")
    errors, _ = check_shop_with_warnings(shop)
    assert any("gateway razorpay needs payments.provider razorpay" in str(e) for e in errors)
    payu = _shop(tmp_path / "payu", "  card_payment: payment_gateway\n  gateway: payu\n"
                                    "  gateway_configuration: haat-live\n")
    errors, warnings = check_shop_with_warnings(payu)
    assert not errors and any("no PayU provider" in str(w) for w in warnings)


# ---- product and product-list messages -----------------------------------------------


async def _category(chat: Chat) -> list[dict[str, Any]]:
    """Menu, then a tap on the category row the bot itself offered (its id and title)."""
    [menu] = _interactive(await chat.send(cloud_text("menu", from_=CUSTOMER)), "list")
    [row] = [r for s in menu["action"]["sections"] for r in s["rows"]
             if r["id"] == "cat:snacks"]
    return await chat.send(cloud_button(row["id"], row["title"], kind="list_reply",
                                        from_=CUSTOMER))


async def test_a_synced_catalog_shows_a_product_list_whose_cart_is_an_order(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    from tests.sim import cloud_order

    configured = _configured(settings, meta, _shop(tmp_path))
    await run_cli_sync(configured)
    chat = Chat(await start_live(aiohttp_client, configured), configured, meta)
    [products] = _interactive(await _category(chat), "product_list")
    action = products["action"]
    assert action["catalog_id"] == CATALOG_ID and products["header"]["type"] == "text"
    [section] = action["sections"]
    ids = [p["product_retailer_id"] for p in section["product_items"]]
    assert ids == ["SAMOSA", "KACHORI"]  # JALEBI has no image: not in Meta's catalog
    assert len(ids) <= 30 and len(action["sections"]) <= 10
    # the shopper's cart from that list comes back as an order of those retailer ids
    held = meta.catalogs[CATALOG_ID]
    cart = [(rid, 2, held[rid]["price"].split()[0], "INR") for rid in ids]
    reply = await chat.send(cloud_order(cart, from_=CUSTOMER))
    text = json.dumps(reply, ensure_ascii=False)
    assert "Samosa" in text and "Kachori" in text


async def test_without_a_synced_catalog_the_category_stays_a_list(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    configured = _configured(settings, meta, _shop(tmp_path))
    chat = Chat(await start_live(aiohttp_client, configured), configured, meta)
    sent = await _category(chat)
    assert not _interactive(sent, "product_list") and _interactive(sent, "list")


async def test_a_product_list_meta_refuses_becomes_the_list(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    configured = _configured(settings, meta, _shop(tmp_path))
    await run_cli_sync(configured)
    del meta.catalogs[CATALOG_ID]["KACHORI"]  # removed in Commerce Manager by hand
    chat = Chat(await start_live(aiohttp_client, configured), configured, meta)
    sent = await _category(chat)
    assert [m["interactive"]["type"] for m in meta.refused] == ["product_list"]
    [fallback] = _interactive(sent, "list")
    rows = [r for s in fallback["action"]["sections"] for r in s["rows"]]
    assert [r["id"] for r in rows] == ["add:SAMOSA", "add:KACHORI", "add:JALEBI"]
    # and its rows work like any list's: a tap adds the product
    tapped = await chat.send(cloud_button(rows[0]["id"], rows[0]["title"], kind="list_reply",
                                          from_=CUSTOMER))
    assert "Samosa" in json.dumps(tapped, ensure_ascii=False)


def test_product_lists_keep_within_30_items_in_10_sections() -> None:
    from bot.types import Reply
    from webhooks.channels.whatsapp_outbound import build_message

    sections = [{"title": f"Shelf {n} with a very long name", "skus": [f"S{n}-{i}"
                 for i in range(5)]} for n in range(12)]
    message = build_message("919000000001", Reply(
        type="product", text="All", header="Everything", skus=("x", "y"),
        extra={"catalog_id": CATALOG_ID, "sections": sections}))
    out = message["interactive"]["action"]["sections"]
    assert len(out) <= 10
    assert sum(len(s["product_items"]) for s in out) == 30
    assert all(len(s["title"]) <= 24 for s in out)


async def test_a_category_of_one_synced_product_is_a_single_product_message(
        aiohttp_client: AiohttpClient, settings: Settings, meta: FakeGraphCatalog,
        tmp_path: Path) -> None:
    configured = _configured(settings, meta, _shop(tmp_path))
    await run_cli_sync(configured)
    chat = Chat(await start_live(aiohttp_client, configured), configured, meta)
    [menu] = _interactive(await chat.send(cloud_text("menu", from_=CUSTOMER)), "list")
    [row] = [r for s in menu["action"]["sections"] for r in s["rows"] if r["id"] == "cat:tea"]
    sent = await chat.send(cloud_button(row["id"], row["title"], kind="list_reply",
                                        from_=CUSTOMER))
    [single] = _interactive(sent, "product")
    # a product with options shows its first option; Meta's page offers the other
    assert single["action"] == {"catalog_id": CATALOG_ID, "product_retailer_id": "CHAI-S"}
    assert "header" not in single  # Meta: a single-product message takes no header
