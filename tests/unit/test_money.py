"""Money: exact minor units per currency, no float anywhere."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.money import Money, MoneyError, asset_token, exponent, is_currency, total


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("149.50", "INR", 14950),
        ("149.5", "INR", 14950),
        ("149", "INR", 14900),
        (" 20.00 ", "inr", 2000),
        ("500", "JPY", 500),
        ("1.250", "KWD", 1250),
        ("0.001", "KWD", 1),
        ("0.000000000000000001", "ETH/18", 1),
        ("1.5", "ETH/18", 1_500_000_000_000_000_000),
        ("-3.25", "INR", -325),
    ],
)
def test_parse_exact(text: str, currency: str, minor: int) -> None:
    money = Money.parse(text, currency)
    assert money == Money(minor, currency.upper())


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("149.505", "INR"),
        ("500.5", "JPY"),
        ("1.2505", "KWD"),
        ("0.0000000000000000001", "ETH/18"),
    ],
)
def test_parse_refuses_extra_decimals(text: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="more decimals"):
        Money.parse(text, currency)


@pytest.mark.parametrize("text", ["1e3", "12,50", "₹20", "abc", "", "1.2.3", "NaN"])
def test_parse_refuses_non_decimal_text(text: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text, "INR")


def test_parse_int_and_decimal() -> None:
    assert Money.parse(20, "INR") == Money(2000, "INR")
    assert Money.parse(Decimal("0.10"), "INR") == Money(10, "INR")
    with pytest.raises(MoneyError):
        Money.parse(Decimal("Infinity"), "INR")


def test_float_is_rejected_everywhere() -> None:
    with pytest.raises(MoneyError):
        Money(1.5, "INR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(True, "INR")
    with pytest.raises(MoneyError):
        Money.parse(True, "INR")
    # a float is not a decimal string; whatever the error type, it never becomes money
    with pytest.raises((MoneyError, TypeError)):
        Money.parse(0.1, "INR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(100, "INR") * 1.5  # type: ignore[operator]


def test_exponents_and_currencies() -> None:
    assert [exponent(c) for c in ("INR", "JPY", "KWD", "ETH/18", "usdc/6")] == [2, 0, 3, 18, 6]
    assert is_currency("inr") and is_currency("ETH/18") and not is_currency("ETH")
    assert not is_currency("RUPEES")
    with pytest.raises(MoneyError, match="unknown currency"):
        Money(1, "RUPEES")


def test_arithmetic() -> None:
    a, b = Money(14950, "INR"), Money(3000, "INR")
    assert a + b == Money(17950, "INR")
    assert a - b == Money(11950, "INR")
    assert b * 3 == Money(9000, "INR") == 3 * b
    assert -b == Money(-3000, "INR") and (-b).is_negative
    assert not Money.zero("INR") and bool(a)
    assert Money(1, "INR") < Money(2, "INR")
    assert total([a, b, b], "INR") == Money(20950, "INR")
    assert total([], "JPY") == Money(0, "JPY")
    with pytest.raises(MoneyError, match="cannot mix"):
        _ = a + Money(1, "USD")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(14950, "INR"), "₹149.50"),
        (Money(12345678, "INR"), "₹123,456.78"),
        (Money(-3000, "INR"), "-₹30.00"),
        (Money(500, "JPY"), "¥500"),
        (Money(1250, "KWD"), "KWD 1.250"),
        (Money(5, "INR"), "₹0.05"),
        (Money(10**18, "ETH/18"), "ETH 1.000000000000000000"),
    ],
)
def test_format(money: Money, text: str) -> None:
    assert money.format() == text == str(money)


def test_decimal_string_for_upi() -> None:
    assert Money(14950, "INR").to_decimal_string(2) == "149.50"
    assert Money(500, "JPY").to_decimal_string() == "500"
    assert Money(500, "JPY").to_decimal_string(2) == "500.00"
    assert Money(1250, "KWD").to_decimal_string() == "1.250"
    assert Money(1250, "KWD").to_decimal_string(2) == "1.25"
    with pytest.raises(MoneyError):
        Money(1255, "KWD").to_decimal_string(2)


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(["INR", "JPY", "KWD", "ETH/18", "USD"]),
)
def test_decimal_string_round_trips(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(money.to_decimal_string(), currency) == money


# ---- issue 14: every ISO 4217 currency, declared assets ------------------------------


def test_the_iso_table_is_complete_with_each_exponent() -> None:
    from catalog.money import ISO_4217, ISO_NO_MINOR_UNIT

    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in ISO_4217)
    assert set(ISO_4217.values()) == {0, 2, 3, 4} and not set(ISO_4217) & ISO_NO_MINOR_UNIT
    assert len(ISO_4217) == 168 and len(ISO_NO_MINOR_UNIT) == 13  # list one, 2025
    for code, places in {"CLF": 4, "UYW": 4, "UYI": 0, "XOF": 0, "TND": 3, "VED": 2,
                         "XCG": 2, "ZWG": 2, "CHE": 2, "MXV": 2, "SLE": 2}.items():
        assert exponent(code) == places, code
    # a fund code and the newest currencies are real currencies, not typos
    assert Money.parse("1.2345", "CLF") == Money(12345, "CLF")
    assert Money.parse("10", "XCG").format() == "XCG 10.00"
    with pytest.raises(MoneyError, match="no minor unit"):
        Money(1, "XAU")


def test_an_asset_carries_its_exponent_from_zero_to_eighteen() -> None:
    from catalog.money import asset_token

    assert asset_token("ETH", 18) == "ETH/18" and asset_token("PTS", 0) == "PTS/0"
    ten_eth = Money.parse("10", "ETH/18")
    assert ten_eth.minor == 10**19 and ten_eth.format() == "ETH 10.000000000000000000"
    assert Money(5, "PTS/0").format() == "PTS 5"
    for code, places in (("ETH", 19), ("ETH", -1), ("INR", 2), ("e", 2), ("TOOLONG", 2)):
        with pytest.raises(MoneyError):
            asset_token(code, places)
    for bad in ("ETH/19", "INR/2", "ETH"):
        with pytest.raises(MoneyError):
            Money(1, bad)
    with pytest.raises(MoneyError, match="cannot mix"):
        Money(1, "ETH/18") + Money(1, "ETH/6")


# Found by `make mutants` (docs/TESTING.md): thousands grouping, the sign of zero, refused
# rounding, and the messages a merchant reads when shop.yaml or an amount is wrong.
@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(123_456_789, "KWD"), "KWD 123,456.789"),
        (Money(-123_456_789, "KWD"), "KWD -123,456.789"),
        (Money(-12_345_678, "INR"), "-₹123,456.78"),
        (Money(1_000_000, "JPY"), "¥1,000,000"),
        (Money(123_456_789, "INR"), "₹1,234,567.89"),
        (Money(123_400, "INR"), "₹1,234.00"),
        (Money(0, "INR"), "₹0.00"),
    ],
)
def test_format_groups_thousands_and_keeps_the_sign(money: Money, text: str) -> None:
    assert money.format() == text


def test_zero_has_no_sign_and_dropping_decimals_refuses_to_round() -> None:
    assert Money(0, "INR").to_decimal_string() == "0.00"
    assert Money(0, "JPY").to_decimal_string(2) == "0.00"
    assert Money(12_000, "INR").to_decimal_string(0) == "120"
    with pytest.raises(MoneyError, match=r"^120 minor units do not fit in 0 decimals$"):
        Money(120, "INR").to_decimal_string(0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: exponent("ETH/19"), r"^ETH/19: an asset's exponent must be 0 to 18$"),
        (lambda: exponent("XAU"), r"^XAU has no minor unit in ISO 4217: prices cannot use it$"),
        (lambda: exponent("ZZZ"), r"^unknown currency 'ZZZ': use an ISO 4217 code such as INR, "
         r"or declare the asset in shop\.yaml \(assets: \{CODE: \{exponent: N\}\}\)$"),
        (lambda: asset_token("INR", 2), r"^asset code 'INR' must be 2-5 capital letters or "
         r"digits, starting with a letter, and not an ISO 4217 code$"),
        (lambda: Money(1.5, "INR"), r"^minor units must be an int, got float$"),  # type: ignore[arg-type]
        (lambda: Money.parse(True, "INR"), r"^an amount cannot be true/false$"),
        (lambda: Money.parse("1,50", "INR"), r"^'1,50' is not a decimal amount like 149\.50$"),
        (lambda: Money.parse(Decimal("Infinity"), "INR"), r"^an amount must be finite$"),
        (lambda: Money(100, "INR") * 1.5, r"^money can only be multiplied by a whole quantity$"),  # type: ignore[operator]
    ],
)
def test_refusals_say_what_is_wrong(make: Callable[[], object], message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        make()


@pytest.mark.parametrize(("money", "usual", "text"), [
    (Money(1_00_000_00, "INR"), "₹1,00,000.00", "₹100,000.00"),
    (Money(12_34_567_89, "INR"), "₹12,34,567.89", "₹1,234,567.89"),
    (Money(1_23_45_678_00, "BDT"), "৳1,23,45,678.00", "৳12,345,678.00"),
    (Money(10_00_000_00, "PKR"), "PKR 10,00,000.00", "PKR 1,000,000.00"),
    (Money(-1_00_000_00, "INR"), "-₹1,00,000.00", "-₹100,000.00"),
    (Money(12_34_567_00, "USD"), "$1,234,567.00", "$1,234,567.00"),  # no lakh: Western
    (Money(1_234_567, "JPY"), "¥1,234,567", "¥1,234,567"),
])
def test_the_usual_form_groups_by_lakh_only_where_people_write_so(
        money: Money, usual: str, text: str) -> None:
    """Receipts (``usual``) write rupees and taka the way they are written on paper; chat
    replies keep Western grouping for every currency."""
    assert money.format(usual=True) == usual
    assert money.format() == text


@pytest.mark.parametrize(("money", "text"), [
    (Money(1_250_00, "BDT"), "৳1,250"),
    (Money(1_00_000_00, "INR"), "₹1,00,000"),
    (Money(1_250_01, "BDT"), "৳1,250.01"),  # a fraction of one minor unit is never hidden
    (Money(1_250_50, "BDT"), "৳1,250.50"),
    (Money(-5_00, "INR"), "-₹5"),
    (Money(500, "JPY"), "¥500"),
    (Money(1_250, "KWD"), "KWD 1.250"),
    (Money(1_000, "KWD"), "KWD 1"),
])
def test_whole_drops_only_a_fraction_of_zero(money: Money, text: str) -> None:
    assert money.format(usual=True, whole=True) == text
