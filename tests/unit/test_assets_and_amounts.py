"""Issue 14: shop-declared assets in shop.yaml, and the wide form of amounts beyond 64 bits."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.loader import SHOP_FILE
from catalog.money import Money
from storage.amounts import LIMIT, AmountTooLarge, ExactSum, from_wide, minor, to_sqlite, wide
from tests.unit.test_loader import assert_error_at, make_shop
from webhooks.plugins import check_shop, load_shop

ETH = ("currency: INR", "currency: ETH\nassets: {ETH: {exponent: 18}, PTS: {exponent: 0}}")
NO_UPI = ("  upi: {vpa: testshop@okaxis, payee_name: Test Shop}\n", "")


def _link_only(folder: Path) -> Path:
    """UPI moves rupees only: an ETH shop is paid by payment link (issue 19's rule)."""
    path = folder / SHOP_FILE
    path.write_text(path.read_text(encoding="utf-8").replace(
        "methods: [upi_link, payment_link]", "methods: [payment_link]"), encoding="utf-8")
    return folder


def test_a_declared_asset_is_the_shops_currency_with_its_exponent(tmp_path: Path) -> None:
    folder = _link_only(make_shop(tmp_path, shop=ETH, catalog=(
        'price: "20.00"', 'price: "0.000000000000000001"')))
    shop = load_shop(folder)
    assert shop.currency == "ETH/18" and dict(shop.assets) == {"ETH": 18, "PTS": 0}
    chai = next(p for p in shop.catalog.products if p.sku == "CHAI")
    assert chai.price == Money(1, "ETH/18")
    assert shop.delivery is not None and shop.delivery.fee == Money(30 * 10**18, "ETH/18")


def test_an_undeclared_asset_names_the_fix(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("currency: INR", "currency: ETH"))
    assert_error_at(folder, SHOP_FILE, "ETH", "declare it under assets:")


@pytest.mark.parametrize(("assets", "needle", "says"), [
    ("{ETH: {exponent: 19}}", "19}}", "0 to 18"),
    ("{ETH: {exponent: -1}}", "-1}}", "must not be negative"),
    ("{eth: {exponent: 18}}", "eth:", "capital letters"),
    ("{INR: {exponent: 2}}", "INR: {", "not an ISO 4217 code"),
    ("{ETH: {decimals: 18}}", "decimals", "unknown key 'decimals'"),
])
def test_a_bad_asset_is_an_error_at_its_line_and_column(
        tmp_path: Path, assets: str, needle: str, says: str) -> None:
    folder = make_shop(tmp_path, shop=("currency: INR", f"currency: INR\nassets: {assets}"))
    if needle == "decimals":  # and "missing required key 'exponent'" at the mapping
        assert any(says in str(e) for e in check_shop(folder))
        return
    assert_error_at(folder, SHOP_FILE, needle, says)


def test_an_eth_shop_may_not_offer_upi(tmp_path: Path) -> None:
    """UPI carries rupees only: ``haat check`` refuses it, naming what would work."""
    folder = make_shop(tmp_path, shop=ETH)
    error = assert_error_at(folder, SHOP_FILE, "[upi_link, payment_link]",
                            "payment method 'upi_link' cannot take ETH")
    assert "use payment_link" in error.message
    assert load_shop(_link_only(folder)).payments.methods == ("payment_link",)


# ---- the wide form -----------------------------------------------------------------------

amounts = st.integers(min_value=-(LIMIT - 1), max_value=LIMIT - 1)


@given(st.lists(amounts, min_size=1, max_size=30))
def test_wide_text_sorts_like_the_numbers_within_a_sign(values: list[int]) -> None:
    for sign in (1, -1):
        same = [v for v in values if (v >= 0) == (sign == 1)]
        assert sorted(same, key=wide) == sorted(same)
    assert all(from_wide(wide(v)) == v for v in values)
    assert all(minor(to_sqlite(v)) == v for v in values)


@given(st.lists(st.one_of(st.integers(-(10**38), 10**38), st.integers(-(2**63), 2**63 - 1)),
                max_size=40))  # 40 × 10^38: every sum still fits the columns' 10^40
def test_sqlite_sum_is_exact_over_both_forms(values: list[int]) -> None:
    conn = sqlite3.connect(":memory:")
    conn.create_aggregate("sum", 1, ExactSum)
    conn.execute("CREATE TABLE t (amount_minor BIGINT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(to_sqlite(v),) for v in values])
    (total,) = conn.execute("SELECT SUM(amount_minor) FROM t").fetchone()
    assert (minor(total) if values else total) == (sum(values) if values else None)
    # and no wide value was turned into a REAL by the column's affinity
    kinds = {k for (k,) in conn.execute("SELECT typeof(amount_minor) FROM t")}
    assert kinds <= {"integer", "text"}
    conn.close()


def test_limits_and_reading_each_database_form() -> None:
    with pytest.raises(AmountTooLarge):
        wide(LIMIT)
    assert minor(Decimal("10000000000000000000")) == 10**19 and minor(7) == 7
    with pytest.raises(ValueError, match="fraction"):
        minor(Decimal("1.5"))
    with pytest.raises(ValueError):
        from_wide("+" + "0" * 40)  # a numeric-looking text would become a REAL in SQLite
    assert to_sqlite(2**63 - 1) == 2**63 - 1 and isinstance(to_sqlite(2**63), str)
