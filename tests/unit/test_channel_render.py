"""Rendering replies: TwiML for Twilio, Graph payloads within Meta's limits, trimming."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.types import Button, Reply
from config.settings import Settings
from webhooks.channels import limits
from webhooks.channels.twilio import TwilioAdapter, render_twiml
from webhooks.channels.whatsapp_cloud import WhatsAppCloudAdapter, build_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
TO = "919811111111"
LONG = "चाय " * 2000  # 8,000 characters of Devanagari


# ---- limits ---------------------------------------------------------------------------------


@given(st.text(max_size=300), st.integers(min_value=1, max_value=120))
def test_trim_never_exceeds_the_limit(text: str, limit: int) -> None:
    out = limits.trim(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
    else:
        assert out.endswith(limits.ELLIPSIS)


def test_trim_examples() -> None:
    assert limits.trim("Masala Chai Large Special", 20) == "Masala Chai Large S…"
    assert limits.trim("Masala   chai", 10) == "Masala…"  # no dangling space before …
    assert limits.trim("abc", 0) == ""
    assert limits.trim_id("x" * 300, limits.BUTTON_ID) == "x" * 256


def test_unique_titles() -> None:
    titles = limits.unique_titles(["Masala Chai Large Cup", "Masala Chai Large Cup!", "Tea"],
                                  limits.BUTTON_TITLE)
    assert len(set(titles)) == 3 and all(len(t) <= limits.BUTTON_TITLE for t in titles)
    assert titles[2] == "Tea"


# ---- TwiML ----------------------------------------------------------------------------------


def _messages(xml: bytes) -> list[tuple[str, list[str]]]:
    root = ET.fromstring(xml)  # noqa: S314 - our own output
    assert root.tag == "Response"
    return [((m.text or "").strip(), [x.text or "" for x in m.findall("Media")])
            for m in root.findall("Message")]


def test_twiml_text_buttons_and_image() -> None:
    replies = [
        Reply(type="text", text="Namaste <friend> & welcome"),
        Reply(type="buttons", text="Add to cart?", buttons=(Button("yes", "Yes"),
                                                            Button("no", "No"))),
        Reply(type="image", text="Masala Chai ₹20", image_url="https://cdn.example/chai.jpg"),
        Reply(type="payment", text="Pay ₹40", link="upi://pay?pa=x@y&am=40.00",
              image_url="https://bot.example/pay/t/qr.png"),
    ]
    response = TwilioAdapter(Settings()).render_response(replies)
    assert response.content_type == "application/xml"
    assert _messages(response.body) == [
        ("Namaste <friend> & welcome", []),
        ("Add to cart?\n1. Yes\n2. No", []),
        ("Masala Chai ₹20", ["https://cdn.example/chai.jpg"]),
        ("Pay ₹40\nupi://pay?pa=x@y&am=40.00", ["https://bot.example/pay/t/qr.png"]),
    ]


def test_twiml_empty_and_long() -> None:
    assert _messages(render_twiml([])) == []
    ((body, _),) = _messages(render_twiml([Reply(type="text", text=LONG)]))
    assert len(body) <= limits.TWILIO_BODY and body.endswith(limits.ELLIPSIS)


# ---- Graph payloads -------------------------------------------------------------------------


def _check_limits(message: dict[str, Any]) -> None:
    """Assert every field of a Graph message is within Meta's documented limits."""
    assert message["messaging_product"] == "whatsapp"
    if message["type"] == "text":
        assert 0 < len(message["text"]["body"]) <= limits.TEXT_BODY
    if message["type"] == "image":
        assert len(message["image"].get("caption", "")) <= limits.CAPTION
    if message["type"] != "interactive":
        return
    interactive = message["interactive"]
    assert 0 < len(interactive.get("body", {"text": "x"})["text"]) <= limits.INTERACTIVE_BODY
    if "header" in interactive and interactive["header"]["type"] == "text":
        assert len(interactive["header"]["text"]) <= limits.HEADER_TEXT
    assert len(interactive.get("footer", {"text": ""})["text"]) <= limits.FOOTER_TEXT
    action = interactive["action"]
    if interactive["type"] == "button":
        buttons = action["buttons"]
        assert 1 <= len(buttons) <= limits.MAX_BUTTONS
        titles = [b["reply"]["title"] for b in buttons]
        assert len(set(titles)) == len(titles)
        assert all(len(t) <= limits.BUTTON_TITLE for t in titles)
        assert all(len(b["reply"]["id"]) <= limits.BUTTON_ID for b in buttons)
    if interactive["type"] == "list":
        assert len(action["button"]) <= limits.LIST_BUTTON
        rows = [r for s in action["sections"] for r in s["rows"]]
        assert 1 <= len(rows) <= limits.MAX_LIST_ROWS
        for row in rows:
            assert len(row["title"]) <= limits.ROW_TITLE
            assert len(row.get("description", "")) <= limits.ROW_DESCRIPTION
            assert len(row["id"]) <= limits.ROW_ID
    if interactive["type"] == "product_list":
        assert interactive["header"]["type"] == "text"
        items = [i for s in action["sections"] for i in s["product_items"]]
        assert len(items) <= limits.MAX_PRODUCTS
        assert all(len(s["title"]) <= limits.SECTION_TITLE for s in action["sections"])


def test_text_is_trimmed_never_rejected() -> None:
    message = build_message(TO, Reply(type="text", text=LONG))
    _check_limits(message)
    assert message["to"] == TO and message["recipient_type"] == "individual"
    assert message["text"]["body"].endswith(limits.ELLIPSIS)
    assert len(message["text"]["body"]) == limits.TEXT_BODY


def test_text_with_link_previews() -> None:
    message = build_message("+" + TO, Reply(type="text", text="Pay here",
                                            link="https://bot.example/pay/abc"))
    assert message["to"] == TO
    assert message["text"] == {"body": "Pay here\nhttps://bot.example/pay/abc",
                               "preview_url": True}


def test_reply_buttons() -> None:
    reply = Reply(type="buttons", text="Add Masala Chai?", header="Masala Chai",
                  footer="Mitra Tea House",
                  buttons=(Button("ADD:MASALA-CHAI", "Yes, add one please now"),
                           Button("ADD:MASALA-CHAI-L", "Yes, add one please now!"),
                           Button("NO", "No")))
    message = build_message(TO, reply)
    _check_limits(message)
    interactive = message["interactive"]
    assert interactive["type"] == "button"
    assert [b["reply"]["id"] for b in interactive["action"]["buttons"]] == [
        "ADD:MASALA-CHAI", "ADD:MASALA-CHAI-L", "NO"]
    assert interactive["header"] == {"type": "text", "text": "Masala Chai"}
    assert interactive["footer"] == {"text": "Mitra Tea House"}


def test_more_than_three_buttons_become_a_list_and_more_than_ten_become_text() -> None:
    five = tuple(Button(f"P{i}", f"Product number {i} with a long name") for i in range(5))
    message = build_message(TO, Reply(type="buttons", text="Pick", buttons=five))
    _check_limits(message)
    assert message["interactive"]["type"] == "list"
    twelve = tuple(Button(f"P{i}", f"Item {i}") for i in range(12))
    message = build_message(TO, Reply(type="list", text="Menu", rows=twelve,
                                      list_button="See menu"))
    assert message["type"] == "text"
    assert "12. Item 11" in message["text"]["body"]


def test_list_within_limits() -> None:
    rows = tuple(Button(f"SKU-{i}", f"Very long product title number {i}", "d" * 100)
                 for i in range(10))
    reply = Reply(type="list", text="Our menu " * 200, rows=rows,
                  list_button="Browse the full menu now", header="H" * 80,
                  extra={"section_title": "Teas and coffees and more"})
    message = build_message(TO, reply)
    _check_limits(message)
    section = message["interactive"]["action"]["sections"][0]
    assert section["title"] == limits.trim("Teas and coffees and more", limits.SECTION_TITLE)
    assert section["rows"][0]["description"].endswith(limits.ELLIPSIS)


def test_image_with_caption() -> None:
    message = build_message(TO, Reply(type="image", text="c" * 2000,
                                      image_url="https://cdn.example/chai.jpg"))
    _check_limits(message)
    assert message["image"]["link"] == "https://cdn.example/chai.jpg"
    assert message["image"]["caption"].endswith(limits.ELLIPSIS)
    assert build_message(TO, Reply(type="image", text="no url"))["type"] == "text"


def test_products_need_a_catalog() -> None:
    single = build_message(TO, Reply(type="product", text="Try it", skus=("MASALA-CHAI",),
                                     extra={"catalog_id": "CAT1"}))
    assert single["interactive"]["type"] == "product"
    assert single["interactive"]["action"] == {"catalog_id": "CAT1",
                                               "product_retailer_id": "MASALA-CHAI"}
    assert "header" not in single["interactive"]
    skus = tuple(f"SKU-{i}" for i in range(40))
    multi = build_message(TO, Reply(type="product", text="Our teas", header="Tea", skus=skus,
                                    extra={"catalog_id": "CAT1"}))
    _check_limits(multi)
    assert multi["interactive"]["type"] == "product_list"
    assert multi["interactive"]["action"]["catalog_id"] == "CAT1"
    no_catalog = build_message(TO, Reply(type="product", text="Masala Chai ₹20",
                                         skus=("MASALA-CHAI",)))
    assert no_catalog["type"] == "text" and no_catalog["text"]["body"] == "Masala Chai ₹20"


def test_order_details_payment_matches_the_meta_example() -> None:
    example = json.loads(
        (FIXTURES / "outbound_order_details_upi_intent_link__meta_docs.json").read_text())
    parameters = example["interactive"]["action"]["parameters"]
    reply = Reply(type="payment", text="your-text-body-content",
                  footer="your-text-footer-content",
                  extra={"order_details": parameters})
    message = build_message("PHONE_NUMBER", reply)
    expected = {k: v for k, v in example["interactive"].items() if k != "header"}
    assert message["interactive"] == expected
    assert {k: message[k] for k in ("messaging_product", "recipient_type", "type")} == {
        k: example[k] for k in ("messaging_product", "recipient_type", "type")}


def test_order_status_matches_the_meta_example() -> None:
    example = json.loads((FIXTURES / "outbound_order_status__meta_docs.json").read_text())
    reply = Reply(type="payment", text="your-text-body-content",
                  extra={"order_status": example["interactive"]["action"]["parameters"]})
    assert build_message("whatsapp-id", reply)["interactive"] == example["interactive"]


def test_payment_without_order_details_sends_the_qr_with_the_link() -> None:
    reply = Reply(type="payment", text="Pay ₹40", link="upi://pay?pa=a@b&am=40.00",
                  image_url="https://bot.example/pay/t/qr.png")
    message = build_message(TO, reply)
    assert message["type"] == "image"
    assert message["image"]["caption"] == "Pay ₹40\nupi://pay?pa=a@b&am=40.00"
    text_only = build_message(TO, Reply(type="payment", text="Pay", link="https://p/x"))
    assert text_only["text"]["body"] == "Pay\nhttps://p/x"


def test_template() -> None:
    message = build_message(TO, Reply(type="template", template="order_update",
                                      params=("Asha", "ORD-7"), extra={"language": "hi"}))
    assert message["template"] == {
        "name": "order_update", "language": {"code": "hi"},
        "components": [{"type": "body", "parameters": [
            {"type": "text", "text": "Asha"}, {"type": "text", "text": "ORD-7"}]}]}


def test_bsuid_recipient_uses_the_recipient_field() -> None:
    message = build_message("US.13491208655302741918", Reply(type="text", text="hi"))
    assert message["recipient"] == "US.13491208655302741918" and "to" not in message


@pytest.mark.parametrize("reply", [
    Reply(type="text"), Reply(type="buttons", buttons=(Button("a", ""),)),
    Reply(type="list", rows=(Button("a", "A"),)), Reply(type="mystery", text="?"),
    Reply(type="template"),
])
def test_degenerate_replies_still_render_valid_messages(reply: Reply) -> None:
    _check_limits(build_message(TO, reply))


def test_cloud_render_response_is_an_empty_ack() -> None:
    response = WhatsAppCloudAdapter(Settings()).render_response([Reply(type="text", text="x")])
    assert response.body == b""


def test_twilio_sends_a_template_by_its_content_sid() -> None:
    from bot.types import Reply
    from config.settings import Settings
    from webhooks.channels.twilio import TwilioAdapter

    adapter = TwilioAdapter(Settings().with_env(TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="t"))
    args = adapter._message_args("+919800000000", "919000000001", Reply(
        type="template", text="Your order shipped", template="HX" + "a" * 32,
        params=("Your order shipped",)))
    assert args["content_sid"] == "HX" + "a" * 32
    assert args["content_variables"] == '{"1": "Your order shipped"}'
    assert "body" not in args
