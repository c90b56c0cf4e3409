"""Manual transfers (issue 19): what ``haat check`` accepts in ``payments.<method>``, the
currency rules, and how a transaction id is read out of a shopper's free-text reply."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.nlu.transaction_id import find_transaction_id
from catalog.loader import SHOP_FILE
from config.settings import Settings
from tests.unit.test_loader import MINIMAL, position
from webhooks.plugins import check_shop, check_shop_with_warnings, load_shop, shop_payment_problems

DHAKA_HEAD = """\
name: {en: Mirpur Pharmacy, bn: মিরপুর ফার্মেসি}
phone: "+8801700000077"
currency: BDT
timezone: Asia/Dhaka
languages: [bn, en]
owners: ["+8801711111177"]
"""


def shop(tmp_path: Path, payments: str, *, head: str = DHAKA_HEAD) -> Path:
    folder = tmp_path / "shop"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(MINIMAL, folder)
    (folder / SHOP_FILE).write_text(head + payments, encoding="utf-8")
    return folder


def errors_of(folder: Path) -> list[str]:
    return [e.message for e in check_shop(folder)]


def test_a_dhaka_shop_names_its_wallets(tmp_path: Path) -> None:
    folder = shop(tmp_path, """\
payments:
  methods: [bkash, nagad, rocket, bank_transfer]
  bkash: {number: "+880 1712-345678", account: merchant}
  nagad: {number: "০১৮১২৩৪৫৬৭৮"}
  rocket: {number: "017123456789"}
  bank_transfer: {account_number: "1234567890123", bank: Dutch-Bangla Bank, routing: "090260434"}
""")
    loaded = load_shop(folder)
    accounts = loaded.payments.transfers
    assert accounts["bkash"].number == "01712345678" and accounts["bkash"].kind == "merchant"
    assert accounts["bkash"].name == "মিরপুর ফার্মেসি"  # the shop's name in its first language
    assert accounts["nagad"].number == "01812345678"  # Bengali digits read as digits
    assert accounts["rocket"].number == "017123456789"  # with Rocket's check digit
    assert accounts["bank_transfer"].routing == "090260434"


@pytest.mark.parametrize(("payments", "needle", "says"), [
    ('  methods: [bkash]\n  bkash: {number: "0171234567"}\n', '"0171234567"',
     "bad bkash number"),
    ('  methods: [bkash]\n  bkash: {number: "017123456789"}\n', '"017123456789"',
     "bad bkash number"),  # a 12th digit is Rocket's, not bKash's
    ('  methods: [nagad]\n  nagad: {number: "01212345678"}\n', '"01212345678"',
     "bad nagad number"),  # no operator 012
    ('  methods: [bkash]\n  bkash: {number: "01712345678", account: shop}\n', "shop}",
     "must be one of personal, merchant, agent"),
    ("  methods: [nagad]\n", "[nagad]", "needs payments.nagad"),
    ('  methods: [upi_link]\n  upi: {vpa: rahman@okaxis}\n', "[upi_link]",
     "'upi_link' cannot take BDT"),
    ('  methods: [bank_transfer]\n  bank_transfer: {account_number: "1234567", bank: City}\n',
     "{account_number", "needs payments.bank_transfer.routing"),
    ('  methods: [bank_transfer]\n  bank_transfer: {account_number: "1234567", bank: City, '
     'routing: "090260434", ifsc: SBIN0001234}\n', "SBIN0001234", "IFSC code is for Indian"),
    ('  methods: [payment_link]\n  provider: upi_intent\n  upi: {vpa: rahman@okaxis}\n',
     "upi_intent", "provider upi_intent takes INR only"),
])
def test_haat_check_refuses_what_does_not_fit(tmp_path: Path, payments: str, needle: str,
                                              says: str) -> None:
    folder = shop(tmp_path, "payments:\n" + payments)
    errors = check_shop(folder)
    assert len(errors) == 1, [str(e) for e in errors]
    line, column = position(folder, SHOP_FILE, needle)
    assert (errors[0].line, errors[0].column) == (line, column), str(errors[0])
    assert says in errors[0].message


def test_the_currency_hint_names_what_would_work(tmp_path: Path) -> None:
    (message,) = errors_of(shop(tmp_path, "payments:\n  methods: [upi_link]\n"
                                          "  upi: {vpa: rahman@okaxis}\n"))
    assert "rupees only" in message and "bkash, nagad or rocket" in message


def test_a_shop_with_no_method_for_its_currency_is_refused(tmp_path: Path) -> None:
    # no payments section: the default (a UPI link) cannot take taka
    (message,) = errors_of(shop(tmp_path, ""))
    assert "no payment method can take BDT" in message and "bkash" in message
    # and every listed method must fit, so a mixed list that fits is the only way through
    assert errors_of(shop(tmp_path, 'payments:\n  methods: [bkash, payment_link]\n'
                                    '  bkash: {number: "01712345678"}\n')) == []


KOLKATA_HEAD = DHAKA_HEAD.replace("BDT", "INR").replace("Asia/Dhaka", "Asia/Kolkata")


@pytest.mark.parametrize(("payments", "says"), [
    ('  methods: [bkash]\n  bkash: {number: "01712345678"}\n', "bkash' cannot take INR"),
    ('  methods: [upi_transfer]\n  upi_transfer: {vpa: "rina das"}\n', "bad UPI id"),
    ('  methods: [bank_transfer]\n  bank_transfer: {account_number: "50100123", bank: HDFC}\n',
     "needs payments.bank_transfer.ifsc"),
    ('  methods: [bank_transfer]\n  bank_transfer: {account_number: "50100123", bank: HDFC, '
     "ifsc: HDFC001234}\n", "bad ifsc"),
])
def test_a_kolkata_shop_is_checked_too(tmp_path: Path, payments: str, says: str) -> None:
    (message,) = errors_of(shop(tmp_path, "payments:\n" + payments, head=KOLKATA_HEAD))
    assert says in message


def test_a_kolkata_shop_takes_a_personal_vpa_and_a_bank_account(tmp_path: Path) -> None:
    folder = shop(tmp_path, """\
payments:
  methods: [upi_transfer, bank_transfer]
  upi_transfer: {vpa: rina.das@okicici, name: Rina Das}
  bank_transfer: {account_number: "50100123456789", bank: HDFC Bank, ifsc: hdfc0001234}
  nagad: {number: "01812345678"}
""", head=KOLKATA_HEAD)
    errors, warnings = check_shop_with_warnings(folder)
    assert errors == []
    assert [w.message for w in warnings] == [
        "payments.nagad is set but 'nagad' is not in payments.methods: shoppers will not be "
        "offered it"]
    accounts = load_shop(folder).payments.transfers
    assert accounts["upi_transfer"].number == "rina.das@okicici"
    assert accounts["bank_transfer"].ifsc == "HDFC0001234"


def test_haat_check_sends_transfers_to_the_manual_provider(tmp_path: Path) -> None:
    folder = shop(tmp_path, 'payments:\n  methods: [bkash]\n  bkash: {number: "01712345678"}\n')
    errors, warnings = shop_payment_problems(load_shop(folder), Settings())
    assert errors == []
    assert warnings == []  # no sandbox secret needed: the shop takes transfers only
    folder = shop(tmp_path, 'payments:\n  methods: [bkash, payment_link]\n'
                            '  bkash: {number: "01712345678"}\n')
    errors, warnings = shop_payment_problems(load_shop(folder), Settings())
    assert errors == [] and ["HAAT_SANDBOX_SECRET" in w for w in warnings] == [True]


# ---- the transaction id in a shopper's reply -------------------------------------------


@pytest.mark.parametrize(("text", "method", "found"), [
    ("8N7A6D5EE7", "bkash", "8N7A6D5EE7"),
    ("trx id: 8n7a6d5ee7", "bkash", "8N7A6D5EE7"),
    ("TrxID8N7A6D5EE7", "bkash", "8N7A6D5EE7"),
    ("You have sent Tk 150.00 to 01711111111 successfully. Ref ORD-1001. Fee Tk 0.00. "
     "Balance Tk 2,350.50. TrxID 8N7A6D5EE7 at 02/12/2026 10:15", "bkash", "8N7A6D5EE7"),
    ("টাকা পাঠিয়েছি, ট্রানজেকশন আইডি ৭১ইউ", "bkash", None),
    ("পাঠিয়েছি 7A6B5C4D", "nagad", "7A6B5C4D"),
    ("UTR ৪১২৩৪৫৬৭৮৯০১ भेज दिया", "upi_transfer", "412345678901"),
    ("paid from 919000000077, UTR 412345678901", "upi_transfer", "412345678901"),
    ("NEFT ref HDFCN52026120212345678", "bank_transfer", "HDFCN52026120212345678"),
    ("2 kg potato", "bkash", None),
    ("my number is 01912345678", "rocket", None),  # a phone number is not an id
    ("ABCDEFGHIJ", "bkash", None),  # an id has a digit in it
    ("8N7A6D5EE7 or maybe 9X9X9X9X9X", "bkash", None),  # two: ask for the one
])
def test_transaction_ids_are_read_liberally_but_exactly(text: str, method: str,
                                                        found: str | None) -> None:
    assert find_transaction_id(text, method).id == found


def test_a_message_that_speaks_of_an_id_without_one_is_asked_again() -> None:
    assert find_transaction_id("here is the trx id", "bkash").asked
    assert find_transaction_id("8N7A6D5EE7 or 9X9X9X9X9X", "bkash").asked
    assert not find_transaction_id("menu", "bkash").asked
    assert not find_transaction_id("I want a refund", "bkash").asked


def test_the_merchants_own_number_is_never_the_id() -> None:
    assert find_transaction_id("sent to 017123456789", "rocket",
                               exclude={"017123456789"}).id is None
