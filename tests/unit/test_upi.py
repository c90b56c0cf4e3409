"""UPI links against the reference vectors (docs/DESIGN.md §5.1 TV-UPI-1..4) and real samples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.money import Money
from payments.upi import (
    UpiError,
    UpiLink,
    build_upi_link,
    encode_value,
    format_amount,
    is_valid_reference,
    is_valid_vpa,
)

SAMPLES = Path(__file__).parents[1] / "fixtures" / "payments" / "upi" / "sample_uris.txt"
TV_UPI_1 = "upi://pay?pa=chaipoint@okaxis&pn=Chai%20Point&am=149.50&cu=INR&tn=Order%2042&tr=ORD-42"
SIGNED = next(line for line in SAMPLES.read_text().splitlines() if "sign=" in line)


def sample_uris() -> list[str]:
    return [
        line.strip() for line in SAMPLES.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_tv_upi_1_build_is_byte_exact() -> None:
    link = UpiLink.build(pa="chaipoint@okaxis", pn="Chai Point", amount=Money(14950, "INR"),
                         tn="Order 42", tr="ORD-42")
    assert link.to_uri() == TV_UPI_1
    assert build_upi_link(vpa="chaipoint@okaxis", payee_name="Chai Point",
                          amount=Money(14950, "INR"), reference="ORD-42",
                          note="Order 42") == TV_UPI_1


def test_tv_upi_1_parse_round_trip_is_byte_exact() -> None:
    link = UpiLink.parse(TV_UPI_1)
    assert link.pn == "Chai Point"
    assert link.amount == Money(14950, "INR")
    assert link.to_uri() == TV_UPI_1


@pytest.mark.parametrize(
    ("paise", "text"),
    [(14950, "149.50"), (100, "1.00"), (5, "0.05"), (1, "0.01"), (99, "0.99"),
     (100000000, "1000000.00")],
)
def test_tv_upi_2_amounts(paise: int, text: str) -> None:
    assert format_amount(Money(paise, "INR")) == text
    assert UpiLink.parse(f"upi://pay?pa=ab@okaxis&am={text}").amount == Money(paise, "INR")
    link = UpiLink.build(pa="shop@okaxis", pn="S", amount=Money(paise, "INR"))
    assert link.am == text
    assert link.amount == Money(paise, "INR")


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [("A&B Traders", "A%26B%20Traders"), ("1+1=2 #x", "1%2B1%3D2%20%23x"),
     ("नमस्ते", "%E0%A4%A8%E0%A4%AE%E0%A4%B8%E0%A5%8D%E0%A4%A4%E0%A5%87")],
)
def test_tv_upi_3_encoding(raw: str, encoded: str) -> None:
    assert encode_value(raw) == encoded
    uri = UpiLink.build(pa="shop@okaxis", pn=raw, amount=Money(100, "INR")).to_uri()
    assert f"pn={encoded}&" in uri
    assert "+" not in uri
    assert UpiLink.parse(uri).pn == raw


@pytest.mark.parametrize("uri", sample_uris())
def test_tv_upi_4_every_sample_parses(uri: str) -> None:
    link = UpiLink.parse(uri)
    assert link.pa
    assert len(link.params) >= 3
    # every raw key is kept, in order
    keys = [segment.split("=", 1)[0] for segment in uri.split("?", 1)[1].split("&")]
    assert [k for k, _ in link.params] == keys
    # re-encoding then parsing gives the same parameters
    assert UpiLink.parse(link.to_uri()).params == link.params


def test_npci_sample_details() -> None:
    link = UpiLink.parse(sample_uris()[0])
    assert link.pn == "nadeem chinna"
    assert link.mam is None  # mam=null means no minimum
    assert link.url == "https://mystar.com/orderid=9298yw89e8973e87389e78923ue892"
    assert link.amount == Money(1000, "INR")  # am=10
    assert link.tid == "cxnkjcnkjdfdvjndkjfvn"
    assert link.mc == "0000"


def test_unknown_keys_and_raw_spaces_are_kept() -> None:
    link = UpiLink.parse(SIGNED)
    assert link.pn == "Paytm Merchant"
    assert link.extra == (("paytmqr", "281005050101MM617CYACRL1"),)
    assert link.mode == "02"
    assert link.get("orgid") == "000000"


def test_signed_link_passes_through_untouched() -> None:
    link = UpiLink.parse(SIGNED)
    assert link.is_signed
    assert link.sign is not None and link.sign.endswith("YQ==") and "+" not in link.sign
    assert link.to_uri() == SIGNED
    assert str(link) == SIGNED


def test_signed_link_keeps_plus_in_base64() -> None:
    uri = "upi://pay?pa=m@psp&pn=M&sign=ab+cd/ef=="
    link = UpiLink.parse(uri)
    assert link.sign == "ab+cd/ef=="
    assert link.to_uri() == uri


def test_signed_link_cannot_be_edited() -> None:
    link = UpiLink.parse(SIGNED)
    edited = UpiLink(params=(*link.params[:-1], ("sign", "forged")), raw=link.raw)
    with pytest.raises(UpiError, match="signed"):
        edited.to_uri()
    with pytest.raises(UpiError):
        link.for_whatsapp_order_details()


def test_unencoded_ampersand_inside_a_value() -> None:
    link = UpiLink.parse("upi://pay?pa=ab@okaxis&pn=A&B%20Traders&am=5.00")
    assert link.pn == "A&B Traders"
    assert link.amount == Money(500, "INR")
    assert UpiLink.parse(link.to_uri()) == link


def test_mandate_sample_parses_with_its_action() -> None:
    link = UpiLink.parse(sample_uris()[-1])
    assert link.action == "mandate"
    assert link.get("txnType") == "CREATE"
    assert link.to_uri().startswith("upi://mandate?")


def test_whatsapp_order_details_keeps_only_five_keys() -> None:
    meta = UpiLink.parse(sample_uris()[1])
    trimmed = meta.for_whatsapp_order_details()
    assert [k for k, _ in trimmed.params] == ["pa", "pn", "tr", "purpose", "mc"]
    assert trimmed.to_uri() == "upi://pay?pa=abc@psp&pn=ABC&tr=877376394&purpose=00&mc=5399"


@pytest.mark.parametrize(
    "bad",
    ["https://pay?pa=a@b", "upi://?pa=a@b", "upi://pay?novalue", "upi://pay?pa=%FF%FE"],
)
def test_parse_rejects_non_links(bad: str) -> None:
    with pytest.raises(UpiError):
        UpiLink.parse(bad)


def test_malformed_amount_raises_on_access() -> None:
    with pytest.raises(UpiError):
        _ = UpiLink.parse("upi://pay?pa=a@okaxis&am=1.234").amount
    with pytest.raises(UpiError):
        _ = UpiLink.parse("upi://pay?pa=a@okaxis&am=1e3").amount


def test_build_full_parameter_set_in_spec_order() -> None:
    link = UpiLink.build(
        pa="shop@okaxis", pn="Shop", amount=Money(2000, "INR"), tr="ORD-7.1_a",
        tn="Order 7", mc="5814", tid="PSPTXN1", min_amount=Money(1000, "INR"),
        url="https://haat.example/pay/tok", mode="00", purpose="00",
        extra=(("ver", "01"),),
    )
    assert [k for k, _ in link.params] == [
        "pa", "pn", "am", "cu", "tn", "tr", "mc", "tid", "mam", "url", "mode", "purpose", "ver",
    ]
    assert "url=https%3A%2F%2Fhaat.example%2Fpay%2Ftok" in link.to_uri()
    assert link.mam == "10.00"
    assert UpiLink.parse(link.to_uri()) == link


def test_static_link_has_no_amount() -> None:
    link = UpiLink.build(pa="shop@okaxis", pn="Shop")
    assert link.amount is None
    assert link.to_uri() == "upi://pay?pa=shop@okaxis&pn=Shop&cu=INR"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount": Money(100, "USD")}, "INR"),
        ({"amount": Money(0, "INR")}, "positive"),
        ({"amount": Money(-5, "INR")}, "positive"),
        ({"tr": "x" * 36}, "tr"),
        ({"tr": "ORD 7"}, "tr"),
        ({"tr": ""}, "tr"),
        ({"mc": "581"}, "mc"),
        ({"mc": "58a4"}, "mc"),
        ({"url": "ftp://x"}, "url"),
        ({"mode": "1"}, "mode"),
        ({"purpose": "ab"}, "purpose"),
        ({"tid": " "}, "tid"),
        ({"pa": "not-a-vpa"}, "UPI ID"),
        ({"pn": "  "}, "payee name"),
        ({"extra": (("am", "1"),)}, "clashes"),
        ({"amount": Money(100, "INR"), "min_amount": Money(200, "INR")}, "mam"),
    ],
)
def test_build_refuses_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"pa": "shop@okaxis", "pn": "Shop"}
    args.update(kwargs)
    with pytest.raises(UpiError, match=message):
        UpiLink.build(**args)  # type: ignore[arg-type]


def test_note_is_capped_at_fifty_chars() -> None:
    link = UpiLink.build(pa="shop@okaxis", pn="Shop", tn="n" * 80)
    assert link.tn == "n" * 50


@pytest.mark.parametrize(
    "vpa",
    ["chaipoint@okaxis", "success@razorpay", "gaurav.kumar@exampleupi", "9876543210@ybl",
     "a_b-c.d@paytm", " mitratea@okaxis "],
)
def test_valid_vpas(vpa: str) -> None:
    assert is_valid_vpa(vpa)


@pytest.mark.parametrize(
    "vpa",
    ["", "merchant_vpa", "a@okaxis", "ab@", "@okaxis", "ab@ok axis", "ab@ok1", "ab@@okaxis",
     "x" * 250 + "@okaxis", "ab@o", "ab cd@okaxis"],
)
def test_invalid_vpas(vpa: str) -> None:
    assert not is_valid_vpa(vpa)


def test_reference_rule() -> None:
    assert is_valid_reference("ORD-42") and is_valid_reference("a" * 35)
    assert not is_valid_reference("a" * 36)
    assert not is_valid_reference("ORD#42")


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda s: s.strip() == s and s != "")


@given(pn=names, tn=names, paise=st.integers(min_value=1, max_value=10**9))
def test_build_parse_round_trip(pn: str, tn: str, paise: int) -> None:
    link = UpiLink.build(pa="shop@okaxis", pn=pn, amount=Money(paise, "INR"), tn=tn,
                         tr="ORD-1")
    uri = link.to_uri()
    assert " " not in uri and "+" not in uri.split("?", 1)[1].replace("%2B", "")
    back = UpiLink.parse(uri)
    assert back == link
    assert back.amount == Money(paise, "INR")
    assert back.to_uri() == uri


# Found by `make mutants` (docs/TESTING.md): edges of the spec's limits, lenient parsing of
# real-world links, and the refusals' messages (what a merchant or a log reader sees).
def test_limits_are_inclusive() -> None:
    assert not is_valid_vpa("a" * 250 + "@okicici")  # 258 > 255: refused
    vpa = "a" * 248 + "@okaxis"  # exactly 255
    assert len(vpa) == 255
    assert is_valid_vpa(vpa)
    same = UpiLink.build(pa="shop@okaxis", pn="Shop", amount=Money(100, "INR"),
                         min_amount=Money(100, "INR"), url="http://shop.example/o/1")
    assert same.mam == same.am == "1.00"
    assert same.url == "http://shop.example/o/1"
    assert "mc=5812" in build_upi_link(vpa="shop@okaxis", payee_name="Shop",
                                       amount=Money(100, "INR"), reference="R1", mcc="5812")


def test_lenient_parsing_of_real_world_links() -> None:
    link = UpiLink.parse("upi://PAY/?&pa=shop@okaxis&cu=INR&pn=A&B%20Traders&tn=why?now&am=2.00")
    assert link.action == "pay"
    assert link.pa == "shop@okaxis"
    assert link.cu == "INR"
    assert link.pn == "A&B Traders"
    assert link.tn == "why?now"
    assert link.amount == Money(200, "INR")
    assert UpiLink.parse("upi://TAX?pa=shop@okaxis").action == "tax"
    # an unsigned parsed link is written back encoded, not echoed raw
    assert UpiLink.parse("upi://pay?pa=shop@okaxis&pn=Chai Point").to_uri() == (
        "upi://pay?pa=shop@okaxis&pn=Chai%20Point")
    mandate = UpiLink.parse("upi://mandate?pa=shop@okaxis&pn=Shop&am=1.00&tr=R1")
    assert mandate.for_whatsapp_order_details().to_uri().startswith("upi://mandate?")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: format_amount(Money(0, "INR")), "a UPI amount must be positive"),
        (lambda: UpiLink.build(pa="shop@okaxis", pn=" "), "the payee name (pn) is required"),
        (lambda: UpiLink.build(pa="shop@okaxis", pn="S", tr="a b"),
         "tr must be 1-35 characters of A-Z a-z 0-9 _ . -"),
        (lambda: UpiLink.build(pa="shop@okaxis", pn="S", mc="58"),
         "mc must be a 4-digit merchant category code"),
        (lambda: UpiLink.build(pa="shop@okaxis", pn="S", tid=" "), "tid must not be empty"),
        (lambda: UpiLink.build(pa="shop@okaxis", pn="S", url="ftp://x"),
         "url must start with http:// or https://"),
        (lambda: UpiLink.build(pa="shop@okaxis", pn="S", amount=Money(100, "INR"),
                               min_amount=Money(101, "INR")), "mam must not exceed am"),
        (lambda: UpiLink.parse(SIGNED).for_whatsapp_order_details(),
         "a PSP-signed link must be sent whole, not trimmed"),
        (lambda: UpiLink.parse("https://pay?pa=a@b"), "not a upi:// link"),
        (lambda: UpiLink.parse("upi://?pa=a@b"), "a upi:// link needs an action such as pay"),
        (lambda: UpiLink.parse("upi://pay?pa"), "parameter without a value: 'pa'"),
        (lambda: UpiLink.parse("upi://pay?%FF=1"), "a percent-escape is not valid UTF-8"),
        (lambda: UpiLink.parse("upi://pay?pa=a@b&%FF=1"), "a percent-escape is not valid UTF-8"),
    ],
)
def test_refusals_say_what_is_wrong(make: Callable[[], object], message: str) -> None:
    with pytest.raises(UpiError) as refused:
        make()
    assert str(refused.value) == message


def test_a_modified_signed_link_is_refused_with_its_reason() -> None:
    link = UpiLink.parse(SIGNED)
    changed = UpiLink(params=(*link.params, ("tn", "changed")), action=link.action, raw=link.raw)
    with pytest.raises(UpiError) as refused:
        changed.to_uri()
    assert str(refused.value) == "a PSP-signed link cannot be modified"
