"""The pure halves of issue 17's catalog sync and order card: Meta's item records, the plan
against the last sync, the card's arithmetic and identifiers, the address form's answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import catalog_sync, order_card
from bot.catalog_sync import BatchMethod, fingerprint, meta_price, plan
from bot.types import MessageKind
from catalog.money import Money
from payments.repository import Order, OrderLine
from payments.status import OrderStatus
from tests.sim import cloud_message
from webhooks.channels.whatsapp_inbound import parse_envelope
from webhooks.plugins import load_shop

SHOP = Path(__file__).resolve().parent.parent / "fixtures" / "shops" / "commerce"


@pytest.mark.parametrize(("minor", "currency", "text"), [
    (1250, "INR", "12.50 INR"), (500, "JPY", "500 JPY"), (1250, "KWD", "1.250 KWD"),
    (7, "INR", "0.07 INR")])
def test_prices_are_meta_s_amount_and_iso_code(minor: int, currency: str, text: str) -> None:
    assert meta_price(Money(minor, currency)) == text


def test_the_plan_creates_updates_deletes_and_leaves_the_rest() -> None:
    desired = {"A": {"id": "A", "price": "1.00 INR"}, "B": {"id": "B", "price": "2.00 INR"},
               "C": {"id": "C", "price": "3.00 INR"}}
    previous = {"B": fingerprint(desired["B"]), "C": "stale", "D": fingerprint({"id": "D"})}
    got = {(r.method, r.retailer_id) for r in plan(desired, previous)}
    assert got == {(BatchMethod.CREATE, "A"), (BatchMethod.UPDATE, "C"),
                   (BatchMethod.DELETE, "D")}
    [delete] = [r for r in plan(desired, previous) if r.method is BatchMethod.DELETE]
    assert delete.to_json() == {"method": "DELETE", "data": {"id": "D"}}


def test_batches_are_cut_at_meta_s_recommended_size() -> None:
    requests = plan({f"S{i}": {"id": f"S{i}"} for i in range(7001)}, {})
    assert [len(c) for c in catalog_sync.chunks(requests)] == [3000, 3000, 1001]


def _order(total: int, delivery: int = 3000, address: str = "") -> Order:
    return Order(id="s/ORD-7", shop_id="s", number=7, channel="whatsapp", customer="c",
                 status=OrderStatus.PENDING_PAYMENT, currency="INR", subtotal_minor=2500,
                 delivery_minor=delivery, tip_minor=0, total_minor=total, address=address,
                 language="en", created_at=0, updated_at=0)


LINES = [OrderLine(sku="SAMOSA", name="Samosa", quantity=2, unit_price=Money(1250, "INR"))]


@pytest.mark.parametrize("total", [5500, 6000, 5000])
def test_the_card_s_sums_are_the_ones_meta_checks(total: int) -> None:
    shop = load_shop(SHOP)
    params = order_card.order_details(
        shop, _order(total), LINES, reference="pr_abc", expires_at_ms=3_600_000, now_ms=0,
        upi_link="upi://pay?pa=a@okaxis&pn=A&am=55.00&tr=pr_abc&tn=x", link_url="https://x",
        synced_skus={"SAMOSA"})
    order = params["order"]
    subtotal = sum(i["amount"]["value"] * i["quantity"] for i in order["items"])
    assert order["subtotal"]["value"] == subtotal
    assert params["total_amount"]["value"] == total == subtotal + order["tax"]["value"] + \
        order["shipping"]["value"] - order.get("discount", {}).get("value", 0)
    # a line of other charges has no retailer id: then the card names no catalog
    assert ("catalog_id" in order) == (total <= 5500)
    assert "am=" not in params["payment_settings"][0]["upi_intent_link"]["link"]


def test_references_and_typed_addresses_follow_meta_s_rules() -> None:
    assert order_card.reference_id("pr/ORD 7:é" + "x" * 40) == ("pr-ORD-7--" + "x" * 25)
    who = order_card.beneficiary("Flat 4, Lake Road, Kolkata 700091", None, "Asha")
    assert who == {"name": "Asha", "address_line1": "Flat 4, Lake Road, Kolkata 700091",
                   "country": "India", "postal_code": "700091"}
    assert order_card.beneficiary("  ", None, None) is None


def test_an_expiry_sooner_than_five_minutes_is_left_out() -> None:
    params = order_card.order_details(
        load_shop(SHOP), _order(5500), LINES, reference="pr_1", expires_at_ms=200_000,
        now_ms=0, upi_link="", link_url="https://pay.example/x")
    assert "expiration" not in params["order"]
    assert params["payment_settings"] == [{"type": "payment_link",
                                           "payment_link": {"uri": "https://pay.example/x"}}]


def _address_envelope(response_json: object) -> MessageKind:
    payload = cloud_message("interactive", {"type": "nfm_reply", "nfm_reply": {
        "name": "address_message", "body": "Address",
        "response_json": response_json}})
    delivery, _ = parse_envelope(payload)
    [message] = delivery.messages
    return message.kind


def test_the_address_form_s_answer_parses_and_a_broken_one_is_unknown() -> None:
    good = json.dumps({"values": {"name": "A", "in_pin_code": "700091", "city": "Kolkata"}})
    payload = cloud_message("interactive", {"type": "nfm_reply", "nfm_reply": {
        "name": "address_message", "response_json": good}})
    [message] = parse_envelope(payload)[0].messages
    assert message.kind is MessageKind.ADDRESS
    assert dict(message.address_form) == {"name": "A", "in_pin_code": "700091",
                                          "city": "Kolkata"}
    assert message.text == "Kolkata, 700091"
    assert _address_envelope("{not json") is MessageKind.UNKNOWN
    assert _address_envelope(json.dumps({"values": []})) is MessageKind.UNKNOWN
    assert _address_envelope(json.dumps({"values": {"city": {"x": 1}}})) is MessageKind.UNKNOWN


def test_without_a_catalog_each_item_names_its_origin_and_importer(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "shop"
    shutil.copytree(SHOP, folder)
    shop_yaml = folder / "shop.yaml"
    shop_yaml.write_text(shop_yaml.read_text() + (
        '  business_address: {address_line1: "12 Lake Road", address_line2: "Salt Lake", '
        'city: Kolkata, zone_code: WB, postal_code: "700091"}\n'))
    shop = load_shop(folder)
    documented = json.loads((SHOP.parent.parent / "channels" /
                             "outbound_order_details_upi_intent_link__meta_docs.json"
                             ).read_text())["interactive"]["action"]["parameters"]
    [doc_item, _] = documented["order"]["items"]
    params = order_card.order_details(shop, _order(5500), LINES, reference="pr_1",
                                      expires_at_ms=0, now_ms=0, upi_link="",
                                      link_url="https://x")
    [item] = params["order"]["items"]
    assert set(item) == set(doc_item) - {"sale_amount"}
    assert set(item["importer_address"]) == set(doc_item["importer_address"])
    assert item["importer_address"]["zone_code"] == "WB"
    synced = order_card.order_details(shop, _order(5500), LINES, reference="pr_1",
                                      expires_at_ms=0, now_ms=0, upi_link="",
                                      link_url="https://x", synced_skus={"SAMOSA"})
    assert "importer_name" not in synced["order"]["items"][0]
