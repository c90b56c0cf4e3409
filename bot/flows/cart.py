"""Cart: add by text, button or list; options ("small or large?"); remove; view.

See cart.mmd for the diagram. The cart lives in the conversation as {sku: qty}; prices are
always taken from the current catalog, never from the message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.filters import Filter, button, intent, kind
from bot.flows.common import available, options_text, price_text, product_name, sold_out
from bot.nlu.base import ItemMention, QuantityIssue, Understanding
from bot.nlu.cart_plan import plan_items
from bot.nlu.numbers import parse_number
from bot.router import UNHANDLED, Blueprint, Turn
from bot.state import ConversationState
from bot.types import Button, MessageKind, Reply
from catalog.cart import Cart, price_cart
from catalog.models import Option, Product

router = Blueprint("cart")
# "make it 3" changes the line just added; it must win over intents that misread it
# ("change it to 3" looks like change_language), so it is routed before them
quantity_router = Blueprint("cart-quantity")

MAX_QUANTITY = 99

_SET_QUANTITY = re.compile(
    r"^\s*(?:please\s+)?(?:make|change|set)\s+(?:it|that|this|them)\s+(?:to\s+)?(?P<en>\S+)"
    r"(?:\s+please)?\s*[.!]?\s*$"
    r"|^\s*(?:usko|usse|isko|ise|use|wo|woh)?\s*(?P<hi_latn>\S+)\s+(?:kar|kr)\s*"
    r"(?:do|dijiye|dena|de)\s*$"
    r"|^\s*(?:इसे|उसे|वो)?\s*(?P<hi>\S+)\s+कर\s*(?:दो|दीजिए|दें|दीजिये)\s*।?\s*$"
    r"|^\s*(?:ওটা|এটা|ওটাকে|এটাকে)?\s*(?P<bn>\S+)\s+করে\s*(?:দিন|দাও|দে)\s*।?\s*$"
    r"|^\s*(?:اجعلها|اجعله|اجعلهم|خليها|خليه|غيرها\s+إلى|غيره\s+إلى)\s+(?P<ar>\S+)\s*$",
    re.IGNORECASE)
_COUNT_SUFFIX = re.compile(r"(?:টা|টি|টো|ta|ti)$")


def wanted_quantity(text: str) -> int | None:
    """The N of "make it N" (any language, any digits), or None when it is not that."""
    match = _SET_QUANTITY.match(text or "")
    if match is None:
        return None
    word = next(g for g in match.groups() if g is not None)
    value = parse_number(_COUNT_SUFFIX.sub("", word) or word)
    if value is None or value.denominator != 1 or not 0 <= value.numerator <= MAX_QUANTITY:
        return None
    return int(value.numerator)


def _label(turn: Turn, product: Product, option: Option | None, quantity: int) -> str:
    return f"{quantity} × {product_name(turn, product, option)}"


def add_to_cart(turn: Turn, sku: str, quantity: int) -> str | None:
    """Add to the conversation's cart respecting stock; returns the line label or None."""
    hit = turn.shop.catalog.find_sku(sku)
    if hit is None:
        return None
    product, option = hit
    stock = available(turn, sku)
    if stock is not None and stock <= 0:
        turn.say("sold_out", name=product_name(turn, product, option))
        return None
    cart = dict(turn.conversation.cart)
    wanted = min(cart.get(sku, 0) + quantity, MAX_QUANTITY)
    if stock is not None and wanted > stock:
        wanted = stock
        turn.say("stock_limited", stock=stock, name=product_name(turn, product, option))
    added = wanted - cart.get(sku, 0)
    if added <= 0:
        return None
    cart[sku] = wanted
    turn.conversation = turn.conversation.with_(cart=cart).with_data(last_sku=sku)
    return _label(turn, product, option, added)


def _quantity_filter(turn: Turn) -> bool:
    return bool(turn.conversation.cart) and not turn.payload and not turn.is_owner \
        and wanted_quantity(turn.message.text) is not None


@quantity_router.on(Filter(_quantity_filter, "set_quantity"))
async def set_quantity(turn: Turn) -> object:
    """"make it 3": the line last added (or the only line) gets exactly that quantity."""
    cart = dict(turn.conversation.cart)
    sku = turn.conversation.data.get("last_sku")
    if sku not in cart:
        if len(cart) != 1:
            return UNHANDLED
        sku = next(iter(cart))
    quantity = wanted_quantity(turn.message.text)
    hit = turn.shop.catalog.find_sku(str(sku))
    if quantity is None or hit is None:
        return UNHANDLED
    sku = str(sku)
    if quantity == 0:
        removed = _label(turn, hit[0], hit[1], cart.pop(sku))
        turn.conversation = turn.conversation.with_(cart=cart)
        turn.say("removed", items=removed)
        show_cart(turn)
        return None
    stock = available(turn, sku)
    if stock is not None and quantity > stock:
        quantity = stock
        if stock <= 0:
            cart.pop(sku)
            turn.conversation = turn.conversation.with_(cart=cart)
            turn.say("sold_out", name=product_name(turn, *hit))
            show_cart(turn)
            return None
        turn.say("stock_limited", stock=stock, name=product_name(turn, *hit))
    cart[sku] = quantity
    turn.conversation = turn.conversation.with_(cart=cart)
    turn.say("quantity_set", item=_label(turn, hit[0], hit[1], quantity))
    show_cart(turn)
    return None


def ask_option(turn: Turn, product: Product, quantity: int) -> None:
    """The product has variants and none was named: ask, remembering the quantity."""
    language, fallback = turn.language, turn.shop.default_language
    buttons = [Button(f"opt:{o.sku}:{quantity}",
                      f"{o.name.get(language, fallback)} {o.price.format()}")
               for o in product.options]
    # the base product is a choice of its own unless an option stands for it (same price)
    if not sold_out(turn, product) and all(o.price != product.price for o in product.options):
        buttons.insert(0, Button(f"opt:{product.sku}:{quantity}",
                                 f"{product_name(turn, product)} {product.price.format()}"))
    text = turn.t("choose_option", name=product_name(turn, product),
                  options=options_text(turn, product))
    kind = "buttons" if len(buttons) <= 3 else "list"
    turn.reply(Reply(type=kind, text=text, buttons=tuple(buttons) if kind == "buttons" else (),
                     rows=tuple(buttons) if kind == "list" else (),
                     list_button=turn.t("items_button")))
    turn.conversation = turn.conversation.with_(state=ConversationState.CHOOSING_OPTION)


def _refuse(turn: Turn, item: ItemMention, issue: QuantityIssue) -> None:
    """A quantity no shop means: say so in the shopper's language, and ask, never rewrite."""
    hit = turn.shop.catalog.find_sku(item.sku)
    if hit is None:
        return
    name = product_name(turn, *hit)
    asked = item.quantity_text or str(item.quantity)
    if issue is QuantityIssue.TOO_MANY:
        turn.say("quantity_too_many", quantity=asked, name=name, limit=turn.shop.max_quantity)
    elif issue in (QuantityIssue.FRACTION, QuantityIssue.NO_SIZE):
        turn.say("quantity_whole", quantity=asked, name=name)
    else:  # zero, negative, "1e9"
        turn.say("quantity_unclear", quantity=asked, name=name)


def ask_which(turn: Turn, item: ItemMention) -> None:
    """Two or more products fit the words about equally: buttons, one per candidate."""
    _ask_which(turn, item.candidates, item.quantity, item.text)


def _ask_which(turn: Turn, candidates: Sequence[str], quantity: int, words: str) -> None:
    catalog = turn.shop.catalog
    rows: list[Button] = []
    for sku in candidates:
        hit = catalog.find_sku(sku)
        if hit is not None:
            rows.append(Button(f"opt:{sku}:{max(1, quantity)}",
                               f"{product_name(turn, *hit)} {price_text(*hit)}"))
    text = turn.t("which_one", words=words)
    kind = "buttons" if len(rows) <= 3 else "list"
    turn.reply(Reply(type=kind, text=text, buttons=tuple(rows) if kind == "buttons" else (),
                     rows=tuple(rows) if kind == "list" else (),
                     list_button=turn.t("items_button")))
    turn.conversation = turn.conversation.with_(state=ConversationState.CHOOSING_OPTION)


def say_unmatched(turn: Turn, words: tuple[str, ...]) -> None:
    """Never a silent drop: name the words we could not match and offer the closest."""
    if not words:
        return
    quoted = ", ".join(f"“{w}”" for w in words)
    suggestions = turn.index.suggest(" ".join(words), limit=3)
    if suggestions:
        turn.say("words_not_found_suggest", words=quoted,
                 names=", ".join(product_name(turn, m.product) for m in suggestions))
    else:
        turn.say("words_not_found", words=quoted)


def add_items(turn: Turn, items: tuple[ItemMention, ...],
              unmatched: tuple[str, ...] = ()) -> None:
    """Add what is clear, then say what was not understood and ask about the rest."""
    plan = plan_items(items, turn.shop.catalog, turn.shop.max_quantity)
    labels = [label for item in plan.lines
              if (label := add_to_cart(turn, item.sku, item.quantity))]
    if labels:
        turn.say("added", items=", ".join(labels))
    say_unmatched(turn, unmatched)
    for item, issue in plan.refused:
        _refuse(turn, item, issue)
    if not labels and not plan.refused and not plan.ambiguous and not plan.ask_option \
            and plan.negated:
        names = [product_name(turn, *hit) for i in plan.negated
                 if (hit := turn.shop.catalog.find_sku(i.sku)) is not None]
        if names:
            turn.say("not_adding", items=", ".join(names))
    questions = [*({"which": list(i.candidates), "quantity": i.quantity, "words": i.text}
                   for i in plan.ambiguous),
                 *({"option": i.sku, "quantity": i.quantity} for i in plan.ask_option)]
    if ask_next(turn, questions):
        return
    if labels:
        show_cart(turn, header_only=True)


def ask_next(turn: Turn, questions: list[dict[str, Any]]) -> bool:
    """Ask the first question a message left ("which dal?", "small or large?") and keep the
    others in the conversation, so "2 chai and 2 aloo" asks about both, one after the other,
    and no item the shopper named is dropped. False when none is left to ask."""
    while questions:
        question, *questions = questions
        if "which" in question:
            _ask_which(turn, question["which"], question["quantity"], question["words"])
        else:
            hit = turn.shop.catalog.find_sku(question["option"])
            if hit is None:  # the catalog changed since the message
                continue
            ask_option(turn, hit[0], question["quantity"])
        turn.conversation = turn.conversation.with_data(**{PENDING_QUESTIONS: questions or None})
        return True
    turn.conversation = turn.conversation.with_data(**{PENDING_QUESTIONS: None})
    return False


PENDING_QUESTIONS = "pending_questions"  # conversation data: the questions still to ask


@router.on(kind(MessageKind.ORDER))
async def catalog_order(turn: Turn) -> None:
    """A WhatsApp catalog cart: its lines replace the cart, priced from our catalog."""
    cart: dict[str, int] = {}
    unknown: list[str] = []
    repriced: list[str] = []
    for item in turn.message.order_items:
        hit = turn.shop.catalog.find_sku(item.sku)
        if hit is None:
            unknown.append(item.sku)
            continue
        product, option = hit
        price = option.price if option is not None else product.price
        if item.item_price_minor is not None and item.item_price_minor != price.minor:
            repriced.append(f"{product_name(turn, product, option)} {price.format()}")
        cart[item.sku] = min(cart.get(item.sku, 0) + item.quantity, MAX_QUANTITY)
    turn.conversation = turn.conversation.with_(cart={})
    labels = [label for sku, qty in cart.items() if (label := add_to_cart(turn, sku, qty))]
    if unknown:
        turn.say("order_unknown_items", count=len(unknown))
    if repriced:
        turn.say("order_repriced", items=", ".join(repriced))
    if labels:
        turn.say("added", items=", ".join(labels))
    show_cart(turn)


@router.on(button("opt:"))
async def option_chosen(turn: Turn) -> object:
    parts = (turn.payload or "").split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        return UNHANDLED
    answering = turn.conversation.state is ConversationState.CHOOSING_OPTION
    pending = list(turn.conversation.data.get(PENDING_QUESTIONS) or ()) if answering else []
    turn.conversation = turn.conversation.with_(state=ConversationState.IDLE)
    label = add_to_cart(turn, parts[1], max(1, int(parts[2])))
    if label:
        turn.say("added", items=label)
    if ask_next(turn, pending):
        return None
    if label:
        show_cart(turn, header_only=True)
    return None


@router.on(button("add:"))
async def add_button(turn: Turn) -> object:
    sku = (turn.payload or "")[4:]
    hit = turn.shop.catalog.find_sku(sku)
    if hit is None:
        return UNHANDLED
    add_items(turn, (ItemMention(sku=sku, quantity=1),))
    return None


@router.on(intent("add_to_cart"))
async def add_text(turn: Turn, understanding: Understanding) -> None:
    if not understanding.items and understanding.unmatched:
        say_unmatched(turn, understanding.unmatched)
        return
    if not understanding.items:
        suggestions = turn.index.suggest(turn.message.text, limit=3)
        if suggestions:
            turn.say("did_you_mean",
                     names=", ".join(product_name(turn, m.product) for m in suggestions))
        else:
            turn.say("which_product")
        return
    if any(i.removal for i in understanding.items):  # "2 samosa, remove the chai"
        await remove(turn, understanding)
        return
    add_items(turn, understanding.items, understanding.unmatched)


def take_out(turn: Turn, understanding: Understanding,
             items: tuple[ItemMention, ...]) -> list[str]:
    """Take ``items`` out of the cart (all of a line, or the count named); their labels.

    "remove the chai" names the product and the cart may hold one of its options; "remove
    dal" with two dals takes out the one the cart holds.
    """
    cart = dict(turn.conversation.cart)
    catalog = turn.shop.catalog
    removed: list[str] = []
    targets: list[tuple[str, ItemMention | None]] = [(i.sku, i) for i in items if i.sku]
    targets += [(sku, i) for i in items if not i.sku for sku in i.candidates]
    if not items:
        targets = [(e.value, None) for e in understanding.entities if e.type == "product"]
    for sku, item in targets:
        hit = catalog.find_sku(sku)
        if hit is None:
            continue
        skus = [sku] if sku in cart else [
            s for s in cart if (h := catalog.find_sku(s)) and h[0].sku == hit[0].sku]
        for s in skus:
            wanted = item.quantity if item is not None and item.quantity_given \
                and item.issue is None else None
            found = catalog.find_sku(s)
            if found is None or s not in cart:
                continue
            if wanted is not None and wanted < cart[s]:
                cart[s] -= wanted
                removed.append(_label(turn, found[0], found[1], wanted))
            else:
                removed.append(_label(turn, found[0], found[1], cart.pop(s)))
    turn.conversation = turn.conversation.with_(cart=cart)
    return removed


@router.on(intent("remove_from_cart"))
async def remove(turn: Turn, understanding: Understanding) -> None:
    """Take out what the message names; in "2 samosa, remove the chai" only the chai,
    and the samosas are added."""
    flagged = tuple(i for i in understanding.items if i.removal)
    rest = tuple(i for i in understanding.items if not i.removal and not i.negated)
    removed = take_out(turn, understanding, flagged or understanding.items)
    if not removed:
        turn.say("not_in_cart")
    else:
        turn.say("removed", items=", ".join(removed))
    if flagged and rest:
        add_items(turn, rest)
        return
    show_cart(turn)


@router.on(intent("view_cart") | button("cart"))
async def view(turn: Turn) -> None:
    show_cart(turn)


def cart_summary(turn: Turn) -> str | None:
    cart = Cart.from_dict(dict(turn.conversation.cart))
    if not cart.lines:
        return None
    priced = price_cart(cart, turn.shop.catalog, turn.shop.delivery, turn.shop.currency,
                        available=lambda sku: available(turn, sku))
    lines = [turn.t("cart_header")]
    for line in priced.lines:
        name = line.name.get(turn.language, turn.shop.default_language)
        lines.append(f"• {line.quantity} × {name} — {line.line_total.format()}")
    lines.append(turn.t("cart_subtotal", amount=priced.subtotal.format()))
    if turn.shop.delivery is not None:
        if priced.delivery_fee:
            lines.append(turn.t("cart_delivery", amount=priced.delivery_fee.format()))
        else:
            lines.append(turn.t("cart_delivery_free"))
    lines.append(turn.t("cart_total", amount=priced.total.format()))
    return "\n".join(lines)


def show_cart(turn: Turn, *, header_only: bool = False) -> None:
    summary = cart_summary(turn)
    if summary is None:
        if not header_only:
            turn.say("cart_empty")
        return
    turn.reply(Reply(type="buttons", text=summary, buttons=(
        Button("checkout", turn.t("checkout_button")),
        Button("menu", turn.t("add_more_button")),
    )))
