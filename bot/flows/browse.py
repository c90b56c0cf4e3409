"""Browse: greeting, the menu by category, product details, prices, "do you have X".

See browse.mmd for the diagram.
"""

from __future__ import annotations

from itertools import islice

from bot.filters import button, intent
from bot.flows.common import (
    available,
    options_text,
    price_text,
    product_name,
    product_row,
    sold_out,
    unit_text,
)
from bot.nlu.base import Understanding
from bot.replies import shop_name
from bot.router import UNHANDLED, Blueprint, Turn
from bot.types import Button, ChannelCapability, Reply
from catalog.models import Option, Product

router = Blueprint("browse")

LIST_ROWS_MAX = 10  # WhatsApp lists carry at most 10 rows
TEXT_ROWS_MAX = 40  # and a message at most 4,096 characters: the rest are found by name


@router.on(intent("greet"))
async def greet(turn: Turn) -> None:
    turn.reply(Reply(
        type="buttons",
        text=turn.t("greeting", shop=shop_name(turn.shop, turn.language)),
        buttons=(Button("menu", turn.t("menu_button")),),
    ))


@router.on(intent("browse_catalog") | button("menu"))
async def menu(turn: Turn) -> None:
    rows = []
    for category in turn.shop.catalog.categories:
        count = len(turn.shop.catalog.in_category(category.id))
        if count:
            rows.append(Button(payload=f"cat:{category.id}",
                               title=category.name.get(turn.language, turn.shop.default_language),
                               description=f"{count}"))
    turn.reply(Reply(type="list", text=turn.t("menu_intro"), rows=tuple(rows[:LIST_ROWS_MAX]),
                     list_button=turn.t("menu_button")))


@router.on(button("cat:"))
async def category(turn: Turn) -> None:
    category_id = (turn.payload or "")[4:]
    found = turn.shop.catalog.category(category_id)
    if found is None:
        await menu(turn)
        return
    products = turn.shop.catalog.in_category(category_id)
    rows = tuple(product_row(turn, p) for p in products[:TEXT_ROWS_MAX])
    example = product_name(turn, next((p for p in products[:TEXT_ROWS_MAX]
                                       if not sold_out(turn, p)), products[0]))
    intro = turn.t("category_intro",
                   category=found.name.get(turn.language, turn.shop.default_language),
                   example=example)
    if len(rows) > LIST_ROWS_MAX:  # the next ones as text so nothing is hidden in a list
        extra = "\n".join(f"• {r.title} — {r.description}" for r in rows[LIST_ROWS_MAX:])
        intro = f"{intro}\n{extra}"
    if len(products) > TEXT_ROWS_MAX:  # a big shop: the rest are a search away
        intro += "\n" + turn.t("more_items", count=len(products) - TEXT_ROWS_MAX)
    name = found.name.get(turn.language, turn.shop.default_language)
    skus = await _catalog_items(turn, products)
    if skus:  # Meta's own product list: the shopper adds to a cart and sends it as an order
        turn.reply(Reply(type="product", text=intro, header=name, skus=skus,
                         rows=rows[:LIST_ROWS_MAX], list_button=turn.t("items_button"),
                         extra={"catalog_id": turn.shop.whatsapp.catalog_id,
                                "section_title": name}))
        return None
    turn.reply(Reply(type="list", text=intro, rows=rows[:LIST_ROWS_MAX],
                     list_button=turn.t("items_button")))
    return None


PRODUCTS_MAX = 30  # a product_list message holds at most 30 items (in at most 10 sections)


async def _catalog_items(turn: Turn, products: tuple[Product, ...]) -> tuple[str, ...]:
    """On a channel with product messages (the Cloud API), the retailer ids of ``products``
    that the shop's Meta catalog holds (bot/catalog_sync.py): a product with options is
    shown by its first option (Meta's product page offers the group's other variants).
    Empty elsewhere: the list stays."""
    catalogs = turn.services.catalogs if turn.services is not None else None
    if ChannelCapability.PRODUCT_MESSAGES not in turn.channel_can or catalogs is None \
            or turn.shop.whatsapp.catalog_id is None:
        return ()
    synced = await catalogs.synced(turn.shop)
    skus: list[str] = []
    for product in products:
        ids = [o.sku for o in product.options] or [product.sku]
        first = next((sku for sku in ids if sku in synced), None)
        if first is not None and not sold_out(turn, product):
            skus.append(first)
    return tuple(skus[:PRODUCTS_MAX])


def _details(turn: Turn, product: Product, option: Option | None) -> str:
    description = product.description.get(turn.language, turn.shop.default_language) \
        if product.description else ""
    lines = [turn.t("product_details", name=product_name(turn, product, option),
                    price=price_text(product, option), unit=unit_text(product),
                    description=description).rstrip()]
    if product.options and option is None:
        lines.append(turn.t("options_list", options=options_text(turn, product)))
    if sold_out(turn, product):
        lines.append(turn.t("sold_out", name=product_name(turn, product)))
    elif product.stock is not None and product.stock <= 5:
        lines.append(turn.t("in_stock_few", stock=product.stock))
    return "\n".join(lines)


def _alternatives(turn: Turn, product: Product) -> str | None:
    others = list(islice((p for p in turn.shop.catalog.in_category(product.category)
                          if p.sku != product.sku and not sold_out(turn, p)), 3))
    if not others:
        return None
    return turn.t("alternatives", names=", ".join(product_name(turn, p) for p in others))


def _matches(turn: Turn, understanding: Understanding) -> list[tuple[Product, Option | None]]:
    found: list[tuple[Product, Option | None]] = []
    for item in understanding.items:
        hit = turn.shop.catalog.find_sku(item.sku)
        if hit is not None and hit not in found:
            found.append(hit)
    if not found:
        for entity in understanding.entities:
            if entity.type == "product":
                hit = turn.shop.catalog.find_sku(entity.value)
                if hit is not None and hit not in found:
                    found.append(hit)
    return found


def _product_buttons(turn: Turn, product: Product) -> tuple[Button, ...]:
    if sold_out(turn, product):
        return ()
    return (Button(f"add:{product.sku}", turn.t("add_more_button").split()[0] + " +1"),
            Button("menu", turn.t("menu_button")))


@router.on(intent("product_price", "search_product"))
async def product_info(turn: Turn, understanding: Understanding) -> object:
    found = _matches(turn, understanding)
    if not found:
        suggestions = turn.index.suggest(turn.message.text, limit=3)
        if suggestions:
            names = ", ".join(product_name(turn, m.product) for m in suggestions)
            turn.say("did_you_mean", names=names)
        else:
            turn.say("not_found")
            turn.say("which_product")
        return None
    for product, option in found[:3]:
        if understanding.intent == "product_price" and not sold_out(turn, product):
            text = turn.t("price", name=product_name(turn, product, option),
                          price=price_text(product, option), unit=unit_text(product))
            if product.options and option is None:
                text += "\n" + turn.t("options_list", options=options_text(turn, product))
        elif understanding.intent == "search_product" and not sold_out(turn, product):
            text = turn.t("have_it", name=product_name(turn, product, option),
                          price=price_text(product, option), unit=unit_text(product))
        else:
            text = _details(turn, product, option)
        if sold_out(turn, product) and (alt := _alternatives(turn, product)):
            text += "\n" + alt
        if product.image and len(found) == 1:
            turn.reply(Reply(type="image", text=text, image_url=product.image))
        else:
            turn.reply(Reply(type="buttons", text=text, buttons=_product_buttons(turn, product))
                       if len(found) == 1 and not sold_out(turn, product)
                       else Reply(type="text", text=text))
    return None


@router.on(button("info:"))
async def product_button(turn: Turn) -> object:
    hit = turn.shop.catalog.find_sku((turn.payload or "")[5:])
    if hit is None:
        return UNHANDLED
    show_product(turn, *hit)
    return None


# ---- "tell me about X": the product's card ---------------------------------------------

# The words that frame a product question in each language ("tell me about", "what's in",
# "ki details", "সম্পর্কে বলুন", "ما هو"). They are taken out before the catalog is searched,
# so they can never be read as a product ("tell" is not mustard oil, "tel").
_INFO_FRAME_WORDS = (
    # en
    "tell me about more what what's whats is are in inside it its it's the a an of on for "
    "does do have has contain contains made with describe details detail info information "
    "ingredients please pls can you show send picture photo pic image comes come give some "
    "and how kind sort type your you yourself shop store",
    # romanised Hindi
    "ki ke ka baare bare baray mein mai batao bataiye bataye batana kya hai hain hota hoti "
    "jankari jaankari dijiye dikhao kaisa kaisi kuch aur daalte ho description bhai ji",
    # hi
    "के की का बारे में बताओ बताइए बताएं बताइये बताना क्या है हैं आता आती होता जानकारी दीजिए "
    "दो डिटेल्स डिटेल कैसा कैसी कुछ और फोटो दिखाओ भरा विवरण ज़रा जरा",
    # bn, then romanised Bengali
    "সম্পর্কে সম্বন্ধে বলুন বলো বলেন বলবেন কী কি আছে থাকে কেমন বিবরণ দিন ব্যাপারে ছবি "
    "দেখান জানতে চাই ডিটেলস এর র তে এ একটু",
    "somporke shomporke bolun bolo ache achhe te er din ta kemon jinis ektu",
    # ar
    "ما هو هي أخبرني اخبرني عن ماذا يوجد في مكونات محتويات حدثني تفاصيل أريد اريد معلومات "
    "صف لي أرني ارني صورة شو ممّ مم يتكون من فضلك",
)
_INFO_FRAME = frozenset(word for words in _INFO_FRAME_WORDS for word in words.split())
_PUNCTUATION = "?!.,;:()\"'“”؟،।*"


def info_query(text: str) -> str:
    """The product part of a product question: its words without the question's frame."""
    words = (w.strip(_PUNCTUATION) for w in text.split())
    return " ".join(w for w in words if w and w.casefold() not in _INFO_FRAME)


def _availability(turn: Turn, product: Product) -> str:
    left = available(turn, product.sku)
    if left == 0:
        return turn.t("sold_out", name=product_name(turn, product))
    if left is not None and left <= 5:
        return turn.t("in_stock_few", stock=left)
    return turn.t("in_stock")


def _card(turn: Turn, product: Product, option: Option | None) -> str:
    """Description, price, each option with its price (and whether it is sold out), and
    availability, in the shopper's language."""
    fallback = turn.shop.default_language
    description = product.description.get(turn.language, fallback) \
        if product.description else ""
    lines = [turn.t("product_details", name=product_name(turn, product, option),
                    price=price_text(product, option), unit=unit_text(product),
                    description=description).rstrip()]
    if product.options and option is None:
        lines.append(turn.t("options_list", options=", ".join(
            f"{o.name.get(turn.language, fallback)} {o.price.format()}"
            + (f" ({turn.t('sold_out_tag')})" if sold_out(turn, product, o) else "")
            for o in product.options)))
    lines.append(_availability(turn, product))
    return "\n".join(lines)


def show_product(turn: Turn, product: Product, option: Option | None = None, *,
                 actions: bool = True) -> None:
    """The product's card: with its image where the product has one (channels without
    images send the text), then what the shopper can do with it."""
    text = _card(turn, product, option)
    if sold_out(turn, product) and (alt := _alternatives(turn, product)):
        text += "\n" + alt
    buttons = _product_buttons(turn, product) if actions else ()
    if product.image:
        turn.reply(Reply(type="image", text=text, image_url=product.image))
        if buttons:  # an image message holds no buttons: they follow it
            turn.reply(Reply(type="buttons", text=turn.t(
                "info_actions", name=product_name(turn, product, option)), buttons=buttons))
    elif buttons:
        turn.reply(Reply(type="buttons", text=text, buttons=buttons))
    else:
        turn.reply(Reply(type="text", text=text))


@router.on(intent("product_info"))
async def product_details(turn: Turn) -> None:
    """"tell me about X", "X ki details", "X সম্পর্কে বলুন", "ما هو X": the product's card.

    The product is looked for in the question without its frame words, not taken from
    the extractor's items, which read "tell me about samosa" as samosa and mustard oil.
    """
    query = info_query(turn.message.text)
    found: list[tuple[Product, Option | None]] = []
    for mention in turn.index.find_mentions(query) if query else []:
        if (mention.product, mention.option) not in found:
            found.append((mention.product, mention.option))
    if not found and query:
        suggestions = turn.index.suggest(query, limit=3)
        if suggestions:
            turn.say("did_you_mean",
                     names=", ".join(product_name(turn, m.product) for m in suggestions))
            return
        turn.say("not_found")
    if not found:
        example = next((p for p in turn.shop.catalog.products if not sold_out(turn, p)), None)
        turn.say("info_which", example=product_name(turn, example) if example else "")
        return
    for product, option in found[:3]:
        show_product(turn, product, option, actions=len(found) == 1)
