"""The shop loader: every broken shop names the exact file, line and column."""

from __future__ import annotations

import os
import shutil
from datetime import time
from pathlib import Path

import pytest

from catalog import loader
from catalog.loader import (
    CATALOG_FILE,
    NLU_FILE,
    SHOP_FILE,
    LoadError,
    ShopError,
    phone_digits,
    strip_annotations,
)
from catalog.models import TemplateRef
from catalog.money import Money
from catalog.plugin_rules import PluginRules, ProviderRules
from config.settings import DEFAULT_SHOP_DIR
from webhooks.plugins import (
    check_shop,
    check_shop_with_warnings,
    load_shop,
    load_shops,
    plugin_rules,
    shop_source,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "shops"
MINIMAL = FIXTURES / "minimal"


# --------------------------------------------------------------------------------------
# helpers


def make_shop(
    root: Path,
    shop: tuple[str, str] | None = None,
    catalog: tuple[str, str] | None = None,
    nlu: str | None = None,
    name: str = "shop",
) -> Path:
    """Copy the minimal valid shop into ``root/name`` and apply one text replacement."""
    folder = root / name
    shutil.copytree(MINIMAL, folder)
    for file, change in ((SHOP_FILE, shop), (CATALOG_FILE, catalog)):
        if change is not None:
            path = folder / file
            text = path.read_text(encoding="utf-8")
            assert change[0] in text, f"replacement target {change[0]!r} not in {file}"
            path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    if nlu is not None:
        (folder / NLU_FILE).write_text(nlu, encoding="utf-8")
    return folder


def position(folder: Path, file: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of ``needle`` in a file."""
    for number, line in enumerate((folder / file).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {file}")


def only_error(folder: Path) -> LoadError:
    errors = check_shop(folder)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def assert_error_at(
    folder: Path, file: str, needle: str, says: str, *, column: bool = True
) -> LoadError:
    error = only_error(folder)
    line, col = position(folder, file, needle)
    assert error.file == str(folder / file)
    assert error.line == line, str(error)
    if column:
        assert error.column == col, str(error)
    assert says in error.message, str(error)
    return error


# --------------------------------------------------------------------------------------
# valid shops


def test_minimal_fixture_loads_with_defaults() -> None:
    shop = load_shop(MINIMAL)
    assert shop.id == "minimal"
    assert shop.phone == "+919800000001"
    assert shop.languages == ("en", "hi")
    assert shop.catalog.find_sku("CHAI-L") is not None
    samosa = shop.catalog.find_sku("SAMOSA")
    assert samosa is not None
    assert samosa[0].price == Money(1200, "INR")  # an unquoted YAML number, read as text
    assert samosa[0].name.get("en") == "Samosa"
    assert shop.hours.is_open(6, time(10)) is False  # sun: closed
    assert shop.hours.is_open(0, time(8, 0)) is True
    assert shop.closed_for_orders is False
    assert check_shop_with_warnings(MINIMAL) == ([], [])


def test_shop_id_can_be_given() -> None:
    assert load_shop(MINIMAL, shop_id="tea-1").id == "tea-1"


def test_demo_shop_loads_cleanly() -> None:
    errors, warnings = check_shop_with_warnings(DEFAULT_SHOP_DIR)
    assert errors == []
    assert warnings == []
    shop = load_shop(DEFAULT_SHOP_DIR)
    assert shop.name.get("en") == "Mitra Tea House"
    assert shop.phone == "+919800000000"
    assert shop.currency == "INR"
    assert shop.timezone == "Asia/Kolkata"
    assert shop.languages == ("en", "hi", "bn", "ar")
    assert shop.owners == ("+919811111111",)
    assert shop.payments.methods == ("upi_link", "payment_link")
    assert shop.payments.provider == "sandbox"
    assert shop.payments.upi is not None and shop.payments.upi.vpa == "mitratea@okaxis"
    assert shop.payments.tips is True
    assert shop.delivery is not None
    assert shop.delivery.fee == Money(3000, "INR")
    assert shop.delivery.free_above == Money(50000, "INR")
    assert set(shop.delivery.areas) >= {"Salt Lake", "New Town", "Park Street"}
    assert shop.hours.is_open(5, time(20, 59)) is True  # saturday
    assert shop.hours.is_open(6, time(13, 30)) is False  # sunday afternoon
    assert shop.hours.is_open(6, time(9, 30)) is True


def test_demo_catalog_is_rich() -> None:
    catalog = load_shop(DEFAULT_SHOP_DIR).catalog
    assert len(catalog.products) >= 30
    assert len(catalog.categories) >= 5
    assert all(catalog.in_category(c.id) for c in catalog.categories)
    skus = [p.sku for p in catalog.products]
    assert all(s == s.upper() for s in skus)
    # options with their own prices
    large = catalog.find_sku("MASALA-CHAI-L")
    assert large is not None and large[1] is not None
    assert large[0].sku == "MASALA-CHAI" and large[1].price == Money(3000, "INR")
    half = catalog.find_sku("ILISH-500G")
    assert half is not None and half[1] is not None and half[1].price == Money(48000, "INR")
    # one sold-out item, several limited ones
    sold_out = [p.sku for p in catalog.products if p.sold_out]
    assert sold_out == ["JALEBI"]
    assert sum(1 for p in catalog.products if p.stock) >= 3
    # names in several scripts and romanised aliases
    chai = catalog.find_sku("MASALA-CHAI")
    assert chai is not None
    assert {"en", "hi", "bn", "ar"} <= set(chai[0].name.by_lang)
    samosa = catalog.find_sku("SAMOSA")
    assert samosa is not None
    assert {"singara", "samose"} <= set(samosa[0].aliases)
    assert samosa[0].name.get("ar") == "سمبوسة"
    everything = " ".join(a for p in catalog.products for a in p.aliases)
    for typed in ("cha", "rosogolla", "mishti doi", "ilish", "aloo"):
        assert typed in everything


def test_demo_shop_texts_faq_and_nlu() -> None:
    shop = load_shop(DEFAULT_SHOP_DIR)
    assert set(shop.replies["greeting"].by_lang) == {"en", "hi", "bn", "ar"}
    assert len(shop.faq) >= 4
    assert all(len(entry.ask) >= 2 for entry in shop.faq)
    assert any("Salt Lake" in entry.answer.get("en") for entry in shop.faq)
    assert shop.templates["cart_reminder"].name == "haat_cart_reminder"
    assert "add_to_cart" in shop.nlu_examples
    assert all("](" not in ex for exs in shop.nlu_examples.values() for ex in exs)
    for product in shop.catalog.products:
        assert set(product.name.by_lang) <= set(shop.languages)


def test_yaml_numbers_are_read_exactly_never_as_float(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=('price: "20.00"', "price: 0.1"))
    chai = load_shop(folder).catalog.find_sku("CHAI")
    assert chai is not None and chai[0].price == Money(10, "INR")


def test_plain_string_text_uses_the_shop_language(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("languages: [en, hi]", "languages: [bn, en]"))
    samosa = load_shop(folder).catalog.find_sku("SAMOSA")
    assert samosa is not None and dict(samosa[0].name.by_lang) == {"bn": "Samosa"}


def test_hours_ranges_days_and_overrides(tmp_path: Path) -> None:
    hours = (
        'hours:\n  daily: "07:00-11:00, 17:00-24:00"\n  sun: closed\n'
        '  fri-mon: "22:00-02:00"\n'
    )
    folder = make_shop(tmp_path, shop=('hours:\n  mon-sat: "08:00-21:00"\n  sun: closed\n', hours))
    opening = load_shop(folder).hours
    assert opening.is_open(2, time(8)) is True  # wednesday, daily range
    assert opening.is_open(2, time(12)) is False
    assert opening.is_open(2, time(23, 59)) is True  # 24:00 means end of day
    assert opening.is_open(0, time(1)) is True  # monday: fri-mon overrides, spans midnight
    assert opening.is_open(0, time(8)) is False


def test_collect_is_a_warning_not_an_error(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("[upi_link, payment_link]", "[upi_link, collect]"))
    errors, warnings = check_shop_with_warnings(folder)
    assert errors == []
    assert len(warnings) == 1
    line, col = position(folder, SHOP_FILE, "collect")
    assert (warnings[0].line, warnings[0].column) == (line, col)
    assert warnings[0].severity == "warning"
    assert "NPCI" in warnings[0].message
    assert ": warning: " in str(warnings[0])
    assert load_shop(folder).payments.methods == ("upi_link", "collect")


def test_optional_shop_keys(tmp_path: Path) -> None:
    extra = (
        "tips: true\n",
        "tips: true\nclosed_for_orders: yes\nhandoff_quiet_minutes: 30\n"
        "templates: {cart_reminder: cart_reminder_v2}\n",
    )
    shop = load_shop(make_shop(tmp_path, shop=extra))
    assert shop.closed_for_orders is True
    assert shop.handoff_quiet_minutes == 30
    assert dict(shop.templates) == {"cart_reminder": TemplateRef(name="cart_reminder_v2")}


def test_categories_may_be_implied_by_products(tmp_path: Path) -> None:
    folder = make_shop(
        tmp_path,
        catalog=(
            "categories:\n  - id: tea\n    name: {en: Tea, hi: चाय}\n"
            "  - id: snacks\n    name: Snacks\n",
            "",
        ),
    )
    catalog = load_shop(folder).catalog
    assert [c.id for c in catalog.categories] == ["tea", "snacks"]
    snacks = catalog.category("snacks")
    assert snacks is not None and snacks.name.get("en") == "Snacks"


def test_nlu_examples_are_read_and_annotations_stripped(tmp_path: Path) -> None:
    nlu = (
        'version: "3.1"\nnlu:\n- intent: add_to_cart\n  examples: |\n'
        "    - [2](quantity) [chai](product) dena\n"
        '    - ek [samosa]{"entity": "product"} dao\n'
        "- synonym: chai\n  examples: |\n    - cha\n"
    )
    shop = load_shop(make_shop(tmp_path, nlu=nlu))
    assert shop.nlu_examples["add_to_cart"] == ("2 chai dena", "ek samosa dao")
    assert strip_annotations("[mishti doi](product:MISHTI-DOI) ache?") == "mishti doi ache?"


def test_a_bad_entity_annotation_in_nlu_yml_is_an_error_at_its_line(tmp_path: Path) -> None:
    nlu = ('version: "3.1"\nnlu:\n- intent: add_to_cart\n  examples: |\n'
           "    - ek [samosa]{product} dao\n")
    folder = make_shop(tmp_path, nlu=nlu)
    error = only_error(folder)
    assert (error.file, error.line) == (str(folder / NLU_FILE), 5)
    assert "bad entity annotation '[samosa]{product}'" in error.message


def test_the_loader_knows_providers_and_intents_only_from_what_it_is_given(
        tmp_path: Path) -> None:
    """A provider that exists nowhere in catalog/ is checked by what it declares: its
    name, its one currency, its need of payments.upi and its lack of collect."""
    acme = ProviderRules("acme", frozenset({"upi_link"}), frozenset({"USD"}), needs_payee=True)
    rules = PluginRules.of((acme,), ("greet",))
    folder = make_shop(tmp_path, shop=(
        "  methods: [upi_link, payment_link]\n  provider: sandbox\n"
        "  upi: {vpa: testshop@okaxis, payee_name: Test Shop}\n",
        "  methods: [payment_link, collect]\n  provider: acme\n"), nlu=(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hola\n'
        "- intent: thanks\n  examples: |\n    - gracias\n"))
    messages = [e.message for e in loader.check_shop(folder, plugins=rules)]
    assert "provider acme needs payments.upi with your vpa" in messages
    assert "provider acme cannot send collect requests: remove 'collect'" in messages
    assert any(m.startswith("provider acme takes USD only, not INR") for m in messages)
    assert "unknown intent 'thanks'" in messages
    assert len(messages) == 4, messages
    upi = make_shop(tmp_path, name="upi", shop=("methods: [upi_link, payment_link]\n"
                                                "  provider: sandbox",
                                                "methods: [upi_link, collect]\n"
                                                "  provider: upi_intent"))
    assert [e.message for e in loader.check_shop(upi, plugins=plugin_rules())] == [
        "provider upi_intent cannot send collect requests: remove 'collect' or use a "
        "provider that can (sandbox, razorpay)"]  # the registry's, in its order
    (message,) = [e.message for e in loader.check_shop(
        make_shop(tmp_path, shop=("provider: sandbox", "provider: acme"), name="other"),
        plugins=plugin_rules())]
    assert message.startswith("unknown payment provider 'acme'; use one of sandbox, ")


def test_load_error_str_format() -> None:
    error = LoadError("config/catalog.yaml", 12, 5, "unknown key 'pric'")
    assert str(error) == "config/catalog.yaml:12:5: unknown key 'pric'"


# --------------------------------------------------------------------------------------
# broken shops: each names the exact file, line and column


def test_unknown_key_with_hint(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("    price: 12", "    pric: 12"))
    errors = check_shop(folder)
    line, col = position(folder, CATALOG_FILE, "pric:")
    unknown = [e for e in errors if "unknown key" in e.message]
    assert [(e.line, e.column) for e in unknown] == [(line, col)]
    assert "did you mean 'price'?" in unknown[0].message
    missing = [e for e in errors if "missing required key 'price'" in e.message]
    assert missing and missing[0].line == position(folder, CATALOG_FILE, "sku: SAMOSA")[0]


def test_unknown_top_level_key_with_hint(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("languages:", "langauges:"))
    assert_error_at(folder, SHOP_FILE, "langauges", "did you mean 'languages'?")


def test_missing_required_key(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=('phone: "+919800000001"\n', ""))
    error = assert_error_at(folder, SHOP_FILE, "name: Test Shop", "missing required key 'phone'")
    assert error.line == 1


def test_wrong_type(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("stock: 5", "stock: lots"))
    assert_error_at(folder, CATALOG_FILE, "lots", "whole number")


def test_wrong_type_mapping_instead_of_list(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=('owners: ["+919811111111"]', "owners: {a: b}"))
    assert_error_at(folder, SHOP_FILE, "{a: b}", "must be a list")


def test_price_with_too_many_decimals(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=('price: "30.00"', 'price: "30.005"'))
    assert_error_at(folder, CATALOG_FILE, '"30.005"', "more decimals than INR allows")


def test_price_decimals_follow_the_currency(tmp_path: Path) -> None:
    folder = make_shop(
        tmp_path,
        shop=("currency: INR\n", "currency: JPY\n"),
        catalog=('price: "20.00"', 'price: "20.5"'),
    )
    shop_yaml = folder / SHOP_FILE  # UPI links take rupees only: yen go by payment link
    shop_yaml.write_text(shop_yaml.read_text(encoding="utf-8").replace(
        "methods: [upi_link, payment_link]", "methods: [payment_link]"), encoding="utf-8")
    errors = check_shop(folder)
    line, col = position(folder, CATALOG_FILE, '"20.5"')
    # the minimal delivery fee "30.00" is fine in JPY (no extra non-zero decimals)
    assert [(e.line, e.column) for e in errors] == [(line, col)]
    assert "JPY" in errors[0].message


def test_negative_price(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=('price: "20.00"', 'price: "-20.00"'))
    assert_error_at(folder, CATALOG_FILE, '"-20.00"', "must not be negative")


def test_negative_stock(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("stock: 5", "stock: -1"))
    assert_error_at(folder, CATALOG_FILE, "-1", "must not be negative")


def test_duplicate_sku_across_product_and_option(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("sku: CHAI-L", "sku: SAMOSA"))
    # the option comes first in the file, so the product is the duplicate
    error = only_error(folder)
    lines = (folder / CATALOG_FILE).read_text(encoding="utf-8").splitlines()
    option_line = next(i for i, t in enumerate(lines, 1) if "{sku: SAMOSA" in t)
    product_line = next(i for i, t in enumerate(lines, 1) if t.strip() == "- sku: SAMOSA")
    assert error.line == product_line
    assert error.column == lines[product_line - 1].index("SAMOSA") + 1
    assert f"duplicate sku 'SAMOSA' (first on line {option_line})" in error.message


def test_malformed_sku(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("sku: SAMOSA", "sku: VEG SAMOSA"))
    assert_error_at(folder, CATALOG_FILE, "VEG SAMOSA", "bad sku 'VEG SAMOSA'")


def test_sku_too_long(tmp_path: Path) -> None:
    long_sku = "S" * 36
    folder = make_shop(tmp_path, catalog=("sku: SAMOSA", f"sku: {long_sku}"))
    assert_error_at(folder, CATALOG_FILE, long_sku, "1-35 letters")


def test_unknown_category_reference(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("category: snacks", "category: snack"))
    error = only_error(folder)
    line, col = position(folder, CATALOG_FILE, "category: snack")
    assert (error.line, error.column) == (line, col + len("category: "))
    assert "unknown category 'snack' (did you mean 'snacks'?)" in error.message


def test_duplicate_category_id(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("id: snacks", "id: tea"))
    errors = check_shop(folder)
    assert len(errors) == 2  # and SAMOSA's category 'snacks' no longer exists
    error = next(e for e in errors if "duplicate" in e.message)
    lines = (folder / CATALOG_FILE).read_text(encoding="utf-8").splitlines()
    tea_lines = [i for i, t in enumerate(lines, 1) if t.strip() == "- id: tea"]
    assert error.line == tea_lines[1]
    assert error.column == lines[tea_lines[1] - 1].index("tea") + 1
    assert f"duplicate category id 'tea' (first on line {tea_lines[0]})" in error.message


def test_bad_currency(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("currency: INR", "currency: RUPEES"))
    assert_error_at(folder, SHOP_FILE, "RUPEES", "unknown currency 'RUPEES'")


def test_lowercase_currency_gets_a_hint(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("currency: INR", "currency: inr"))
    assert_error_at(folder, SHOP_FILE, "inr", "did you mean 'INR'?")


@pytest.mark.parametrize("vpa", ["testshop.okaxis", "a@okaxis", "test shop@okaxis", "x@ok1"])
def test_bad_vpa(tmp_path: Path, vpa: str) -> None:
    folder = make_shop(tmp_path, shop=("vpa: testshop@okaxis", f'vpa: "{vpa}"'))
    assert_error_at(folder, SHOP_FILE, f'"{vpa}"', "bad UPI id")


def test_bad_hours_value(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=('mon-sat: "08:00-21:00"', 'mon-sat: "8am-9pm"'))
    assert_error_at(folder, SHOP_FILE, '"8am-9pm"', "bad opening hours")


def test_bad_hours_time(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=('mon-sat: "08:00-21:00"', 'mon-sat: "08:00-25:00"'))
    assert_error_at(folder, SHOP_FILE, '"08:00-25:00"', "HH:MM-HH:MM")


def test_unknown_day_in_hours(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("  sun: closed", "  sunday-funday: closed"))
    assert_error_at(folder, SHOP_FILE, "sunday-funday", "unknown day 'sunday-funday'")


@pytest.mark.parametrize("phone", ["9800000001", "+91 98000", "+0919800000001", "phone"])
def test_bad_phone(tmp_path: Path, phone: str) -> None:
    folder = make_shop(tmp_path, shop=('phone: "+919800000001"', f'phone: "{phone}"'))
    assert_error_at(folder, SHOP_FILE, f'"{phone}"', "E.164")


def test_bad_owner_phone(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=('["+919811111111"]', '["+919811111111", "011-2345"]'))
    assert_error_at(folder, SHOP_FILE, '"011-2345"', "owner '011-2345' is not an E.164")


def test_unsupported_language(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("languages: [en, hi]", "languages: [en, fr]"))
    assert_error_at(folder, SHOP_FILE, "fr]", "language 'fr' is not supported")


def test_unknown_payment_method(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("payment_link]", "cash_on_delivery]"))
    assert_error_at(folder, SHOP_FILE, "cash_on_delivery", "unknown payment method")


def test_unknown_payment_provider_with_hint(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("provider: sandbox", "provider: razorpey"))
    assert_error_at(folder, SHOP_FILE, "razorpey", "did you mean 'razorpay'?")


def test_text_with_unknown_language_code(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("{en: Chai, hi: चाय}", "{en: Chai, fr: Thé}"))
    assert_error_at(folder, CATALOG_FILE, "fr: Thé", "unknown language code 'fr'")


def test_unquoted_comma_in_flow_text_is_explained(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("name: {en: Large}", "name: {en: Large, hot}"))
    assert_error_at(folder, CATALOG_FILE, "hot}", "put the text in quotes")


def test_empty_catalog(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    shutil.copy(MINIMAL / SHOP_FILE, folder / SHOP_FILE)
    (folder / CATALOG_FILE).write_text("categories: []\nproducts: []\n", encoding="utf-8")
    error = only_error(folder)
    assert (error.file, error.line, error.column) == (str(folder / CATALOG_FILE), 2, 11)
    assert "catalog is empty" in error.message


def test_yaml_syntax_error_has_a_position(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, catalog=("    stock: 5\n", "    stock: [5\n"))
    error = only_error(folder)
    assert error.file == str(folder / CATALOG_FILE)
    assert error.message.startswith("YAML syntax error")
    stock_line = position(folder, CATALOG_FILE, "stock: [5")[0]
    assert stock_line <= error.line <= stock_line + 1


def test_bad_indentation_is_a_syntax_error(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("  provider: sandbox", " provider: sandbox"))
    error = only_error(folder)
    line, _ = position(folder, SHOP_FILE, " provider: sandbox")
    assert error.line == line
    assert "YAML syntax error" in error.message


def test_duplicate_key(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("currency: INR\n", "currency: INR\ncurrency: USD\n"))
    assert_error_at(folder, SHOP_FILE, "currency: USD", "duplicate key 'currency'")


def test_missing_catalog_file(tmp_path: Path) -> None:
    folder = make_shop(tmp_path)
    (folder / CATALOG_FILE).unlink()
    error = only_error(folder)
    assert (error.file, error.line, error.column) == (str(folder / CATALOG_FILE), 1, 1)
    assert "file not found" in error.message


def test_unknown_timezone(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("Asia/Kolkata", "Asia/Calcutta_Town"))
    assert_error_at(folder, SHOP_FILE, "Asia/Calcutta_Town", "unknown timezone")


def test_unknown_nlu_intent(tmp_path: Path) -> None:
    nlu = 'version: "3.1"\nnlu:\n- intent: add_to_kart\n  examples: |\n    - 2 chai\n'
    folder = make_shop(tmp_path, nlu=nlu)
    assert_error_at(folder, NLU_FILE, "add_to_kart", "did you mean 'add_to_cart'?")


def test_every_error_is_reported_at_once() -> None:
    errors, warnings = check_shop_with_warnings(FIXTURES / "broken")
    where = [(Path(e.file).name, e.line, e.column) for e in errors]
    assert where == [
        ("shop.yaml", 2, 8),       # phone
        ("shop.yaml", 5, 17),      # fr
        ("shop.yaml", 7, 12),      # 8am-9pm
        ("shop.yaml", 11, 14),     # vpa
        ("catalog.yaml", 6, 15),   # unknown category tee
        ("catalog.yaml", 8, 12),   # 20.005
        ("catalog.yaml", 9, 5),    # second CHAI lacks price
        ("catalog.yaml", 9, 10),   # duplicate sku
        ("catalog.yaml", 12, 5),   # pric
    ]
    assert [(Path(w.file).name, w.line, w.column) for w in warnings] == [("shop.yaml", 9, 23)]
    with pytest.raises(ShopError) as info:
        load_shop(FIXTURES / "broken")
    assert info.value.errors == errors
    assert str(info.value).splitlines()[4].endswith(
        "catalog.yaml:6:15: unknown category 'tee' (did you mean 'tea'?); categories are: tea"
    )


def test_not_a_shop_folder(tmp_path: Path) -> None:
    errors = check_shop(tmp_path)
    assert len(errors) == 1 and "no shop.yaml" in errors[0].message
    with pytest.raises(ShopError):
        load_shops(tmp_path)


# --------------------------------------------------------------------------------------
# many shops, routing


def test_multi_shop_folder() -> None:
    shops = load_shops(FIXTURES / "multi")
    assert sorted(shops) == ["sweets", "tea"]
    assert shops["tea"].id == "tea"
    assert shops["sweets"].languages == ("bn", "en")
    # which shop a message is for: webhooks/keys.py:Shops.for_business, driven over HTTP by
    # tests/e2e/test_multishop_and_cli.py


def test_single_shop_folder_via_load_shops() -> None:
    shops = load_shops(MINIMAL)
    assert list(shops) == ["minimal"]


def test_two_shops_with_one_phone_is_an_error(tmp_path: Path) -> None:
    make_shop(tmp_path, name="a")
    make_shop(tmp_path, name="b")
    errors = check_shop(tmp_path)
    assert len(errors) == 1
    assert "also the phone of shop 'a'" in errors[0].message
    assert errors[0].file == str(tmp_path / "b" / SHOP_FILE)


def test_phone_digits() -> None:
    assert phone_digits("whatsapp:+91 98000-00000") == "919800000000"
    assert phone_digits("WhatsApp:+15550783881") == "15550783881"


# --------------------------------------------------------------------------------------
# live reload


def _touch_edit(path: Path, old: str, new: str) -> None:
    """Edit a file and make sure its mtime moves even on coarse-clock filesystems."""
    before = path.stat().st_mtime_ns
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_reload_picks_up_a_valid_edit(tmp_path: Path) -> None:
    folder = make_shop(tmp_path)
    source = shop_source(folder)
    assert source.poll() is None  # nothing changed
    old = source.shops["shop"]
    _touch_edit(folder / CATALOG_FILE, 'price: "20.00"', 'price: "22.00"')
    assert source.poll() == []
    chai = source.shops["shop"].catalog.find_sku("CHAI")
    assert chai is not None and chai[0].price == Money(2200, "INR")
    assert source.version == 1
    assert old is not source.shops["shop"]
    assert source.poll() is None


def test_reload_keeps_last_good_shop_on_invalid_edit(tmp_path: Path) -> None:
    folder = make_shop(tmp_path)
    source = shop_source(folder)
    good = source.shops
    _touch_edit(folder / CATALOG_FILE, 'price: "20.00"', 'price: "20.001"')
    errors = source.poll()
    assert errors is not None and len(errors) == 1
    assert errors[0].line == position(folder, CATALOG_FILE, '"20.001"')[0]
    assert source.shops is good
    assert source.version == 0
    assert source.poll() is None  # errors are reported once per edit
    _touch_edit(folder / CATALOG_FILE, 'price: "20.001"', 'price: "21.00"')
    assert source.poll() == []
    chai = source.shops["shop"].catalog.find_sku("CHAI")
    assert chai is not None and chai[0].price == Money(2100, "INR")


def test_reload_notices_a_new_nlu_file(tmp_path: Path) -> None:
    folder = make_shop(tmp_path)
    source = shop_source(folder)
    (folder / NLU_FILE).write_text(
        'nlu:\n- intent: greet\n  examples: |\n    - nomoshkar\n', encoding="utf-8"
    )
    assert source.poll() == []
    assert source.shops["shop"].nlu_examples["greet"] == ("nomoshkar",)


def test_reload_multi_shop_isolates_a_broken_shop(tmp_path: Path) -> None:
    make_shop(tmp_path, name="a")
    make_shop(tmp_path, name="b", shop=("+919800000001", "+919800000002"))
    source = shop_source(tmp_path)
    assert sorted(source.shops) == ["a", "b"]
    _touch_edit(tmp_path / "a" / SHOP_FILE, "currency: INR", "currency: XXX")
    _touch_edit(tmp_path / "b" / SHOP_FILE, "name: Test Shop", "name: Shop B")
    errors = source.poll()
    assert errors is not None and [Path(e.file).parent.name for e in errors] == ["a"]
    assert source.shops["a"].currency == "INR"  # last good kept
    assert source.shops["b"].name.get("en") == "Shop B"  # the good edit still applies


def test_shop_source_refuses_a_broken_start(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("currency: INR", "currency: ABC"))
    with pytest.raises(ShopError) as info:
        shop_source(folder)
    assert info.value.errors[0].line == position(folder, SHOP_FILE, "ABC")[0]


def test_overpayment_policy_is_validated(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("provider: sandbox",
                                       "provider: sandbox\n  overpayment: keep"))
    assert_error_at(folder, SHOP_FILE, "keep", "payments.overpayment must be one of refund, hold")
    good = make_shop(tmp_path / "good", shop=("provider: sandbox",
                                              "provider: sandbox\n  overpayment: hold"))
    assert load_shop(good).payments.overpayment == "hold"
    typo = make_shop(tmp_path / "typo", shop=("provider: sandbox",
                                              "provider: sandbox\n  overpayment: refnd"))
    assert_error_at(typo, SHOP_FILE, "refnd", "got 'refnd' (did you mean 'refund'?)")


# --------------------------------------------------------------------------------------
# max_quantity (issue #15 item 7): the most of one item a message may add


def test_max_quantity_defaults_to_the_cart_line_limit(tmp_path: Path) -> None:
    shop = load_shop(make_shop(tmp_path))
    assert shop.max_quantity == 99


def test_max_quantity_can_be_lowered(tmp_path: Path) -> None:
    shop = load_shop(make_shop(tmp_path, shop=("tips: true\n", "tips: true\nmax_quantity: 20\n")))
    assert shop.max_quantity == 20


@pytest.mark.parametrize(
    ("value", "says"),
    [("0", "must be at least 1"), ("100", "between 1 and 99"), ("many", "whole number"),
     ("2.5", "whole number")],
)
def test_max_quantity_is_checked(tmp_path: Path, value: str, says: str) -> None:
    folder = make_shop(tmp_path, shop=("tips: true\n", f"tips: true\nmax_quantity: {value}\n"))
    assert_error_at(folder, SHOP_FILE, f"max_quantity: {value}", says, column=False)


def test_every_shop_key_has_its_reader() -> None:
    """shop.yaml is read key by key (catalog/shop_schema.py): a key the schema accepts but
    no reader reads would be silently ignored."""
    from catalog.shop_schema import _SHOP_KEYS, _SHOP_READERS

    keys = [key for key, _read in _SHOP_READERS]
    assert sorted(keys) == sorted(_SHOP_KEYS) and len(set(keys)) == len(keys)
