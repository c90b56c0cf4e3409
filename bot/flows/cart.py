"""Cart: add by text, button or list; options ("small or large?"); remove; view.

See cart.mmd for the diagram. The cart lives in the conversation as {sku: qty}; prices are
always taken from the current catalog, never from the message.
"""

from __future__ import annotations

from bot.filters import button, intent, kind
from bot.flows.common import options_text, product_name
from bot.nlu.base import ItemMention, Understanding
from bot.router import UNHANDLED, Router, Turn
from bot.state import ConversationState
from bot.types import Button, MessageKind, Reply
from catalog.cart import Cart, price_cart
from catalog.models import Option, Product

router = Router("cart")

MAX_QUANTITY = 99


def _label(turn: Turn, product: Product, option: Option | None, quantity: int) -> str:
    return f"{quantity} × {product_name(turn, product, option)}"


def add_to_cart(turn: Turn, sku: str, quantity: int) -> str | None:
    """Add to the conversation's cart respecting stock; returns the line label or None."""
    hit = turn.shop.catalog.find_sku(sku)
    if hit is None:
        return None
    product, option = hit
    if product.sold_out or (option is not None and option.stock is not None
                            and option.stock <= 0):
        turn.say("sold_out", name=product_name(turn, product, option))
        return None
    cart = dict(turn.conversation.cart)
    wanted = min(cart.get(sku, 0) + quantity, MAX_QUANTITY)
    stock = option.stock if option is not None and option.stock is not None else product.stock
    if stock is not None and wanted > stock:
        wanted = stock
        turn.say("stock_limited", stock=stock, name=product_name(turn, product, option))
    added = wanted - cart.get(sku, 0)
    if added <= 0:
        return None
    cart[sku] = wanted
    turn.conversation = turn.conversation.with_(cart=cart)
    return _label(turn, product, option, added)


def ask_option(turn: Turn, product: Product, quantity: int) -> None:
    """The product has variants and none was named: ask, remembering the quantity."""
    buttons = [Button(f"opt:{o.sku}:{quantity}",
                      f"{o.name.get(turn.language, turn.shop.default_language)} {o.price.format()}")
               for o in product.options]
    # the base product is a choice of its own unless an option stands for it (same price)
    if not product.sold_out and all(o.price != product.price for o in product.options):
        buttons.insert(0, Button(f"opt:{product.sku}:{quantity}",
                                 f"{product_name(turn, product)} {product.price.format()}"))
    text = turn.t("choose_option", name=product_name(turn, product),
                  options=options_text(turn, product))
    kind = "buttons" if len(buttons) <= 3 else "list"
    turn.reply(Reply(type=kind, text=text, buttons=tuple(buttons) if kind == "buttons" else (),
                     rows=tuple(buttons) if kind == "list" else (),
                     list_button=turn.t("items_button")))
    turn.conversation = turn.conversation.with_(state=ConversationState.CHOOSING_OPTION)


def add_items(turn: Turn, items: tuple[ItemMention, ...]) -> None:
    labels: list[str] = []
    for item in items:
        hit = turn.shop.catalog.find_sku(item.sku)
        if hit is None:
            continue
        product, option = hit
        if option is None and product.options:
            if labels:
                turn.say("added", items=", ".join(labels))
                labels = []
            ask_option(turn, product, item.quantity)
            return
        label = add_to_cart(turn, item.sku, item.quantity)
        if label:
            labels.append(label)
    if labels:
        turn.say("added", items=", ".join(labels))
        show_cart(turn, header_only=True)


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
    turn.conversation = turn.conversation.with_(state=ConversationState.IDLE)
    label = add_to_cart(turn, parts[1], max(1, int(parts[2])))
    if label:
        turn.say("added", items=label)
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
    if not understanding.items:
        suggestions = turn.index.suggest(turn.message.text, limit=3)
        if suggestions:
            turn.say("did_you_mean",
                     names=", ".join(product_name(turn, m.product) for m in suggestions))
        else:
            turn.say("which_product")
        return
    add_items(turn, understanding.items)


@router.on(intent("remove_from_cart"))
async def remove(turn: Turn, understanding: Understanding) -> None:
    cart = dict(turn.conversation.cart)
    removed: list[str] = []
    targets = [i.sku for i in understanding.items] or [
        e.value for e in understanding.entities if e.type == "product"]
    for sku in targets:
        # "remove the chai" names the product; the cart may hold one of its options
        hit = turn.shop.catalog.find_sku(sku)
        if hit is None:
            continue
        skus = [sku] if sku in cart else [
            s for s in cart if (h := turn.shop.catalog.find_sku(s)) and h[0].sku == hit[0].sku]
        for s in skus:
            wanted = next((i.quantity for i in understanding.items
                           if i.sku == sku and i.quantity_given), None)
            found = turn.shop.catalog.find_sku(s)
            if found is None:
                continue
            if wanted is not None and wanted < cart[s]:
                cart[s] -= wanted
                removed.append(_label(turn, found[0], found[1], wanted))
            else:
                removed.append(_label(turn, found[0], found[1], cart.pop(s)))
    if not removed:
        turn.say("not_in_cart")
        show_cart(turn)
        return
    turn.conversation = turn.conversation.with_(cart=cart)
    turn.say("removed", items=", ".join(removed))
    show_cart(turn)


@router.on(intent("view_cart") | button("cart"))
async def view(turn: Turn) -> None:
    show_cart(turn)


def cart_summary(turn: Turn) -> str | None:
    cart = Cart.from_dict(dict(turn.conversation.cart))
    if not cart.lines:
        return None
    priced = price_cart(cart, turn.shop.catalog, turn.shop.delivery, turn.shop.currency)
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
