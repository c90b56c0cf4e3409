"""catalog.yaml: categories, products and their options, with unique SKUs."""

from __future__ import annotations

import re
from collections.abc import Mapping

from yaml.nodes import Node, ScalarNode, SequenceNode

from catalog.invoice_schema import gst_rate, hsn
from catalog.models import (
    Catalog,
    Category,
    Option,
    Product,
    Text,
)
from catalog.nodes import (
    _NULL,
    _Ctx,
    _get,
    _hint,
    _int,
    _mapping,
    _money,
    _peek,
    _scalar_text,
    _seq,
    _str_list,
    _text,
)
from catalog.shop_schema import _ID_RE

SKU_RE = re.compile(r"^[A-Za-z0-9_.-]{1,35}$")
_CATALOG_KEYS = {"categories": False, "products": True}
_CATEGORY_KEYS = {"id": True, "name": True}
_PRODUCT_KEYS = {
    "sku": True, "category": True, "name": True, "aliases": False, "description": False,
    "price": True, "unit": False, "stock": False, "image": False, "options": False,
    "hsn": False, "gst_rate": False,
}
_OPTION_KEYS = {"sku": True, "name": True, "price": True, "stock": False}


# --------------------------------------------------------------------------------------
# catalog.yaml


def _parse_catalog(ctx: _Ctx, root: Node, currency: str | None, lang0: str) -> Catalog | None:
    fields = _mapping(ctx, root, "catalog.yaml", _CATALOG_KEYS)
    if fields is None:
        return None
    categories: list[Category] = []
    category_lines: dict[str, int] = {}
    if (pair := fields.get("categories")) is not None:
        categories = _categories(ctx, pair[1], lang0, category_lines)

    implicit = "categories" not in fields  # then each product's category names one
    products: list[Product] = []
    sku_lines: dict[str, int] = {}
    product_nodes: list[Node] = []
    if (pair := fields.get("products")) is not None:
        node = pair[1]
        if (isinstance(node, ScalarNode) and node.tag == _NULL) or (
            isinstance(node, SequenceNode) and not node.value
        ):
            ctx.error(node, "the catalog is empty: add at least one product")
        else:
            product_nodes = _seq(ctx, node, "products")
    for item in product_nodes:
        known = None if implicit else category_lines
        product = _product(
            ctx, item, currency=currency, lang0=lang0, categories=known, sku_lines=sku_lines
        )
        if product is not None:
            products.append(product)
            if implicit and product.category not in category_lines:
                category_lines[product.category] = 0
                title = product.category.replace("_", " ").replace("-", " ").title()
                categories.append(Category(id=product.category, name=Text.of(title, lang0)))
    return Catalog(categories=tuple(categories), products=tuple(products))


def _categories(ctx: _Ctx, node: Node, lang0: str,
                category_lines: dict[str, int]) -> list[Category]:
    """The ``categories:`` list; each id's line is remembered in ``category_lines``."""
    categories: list[Category] = []
    for item in _seq(ctx, node, "categories"):
        cfields = _mapping(ctx, item, "category", _CATEGORY_KEYS)
        if cfields is None:
            continue
        cid: str | None = None
        if (cpair := cfields.get("id")) is not None:
            cid = _scalar_text(ctx, cpair[1], "category id")
            if cid is not None and not _ID_RE.match(cid):
                ctx.error(cpair[1], f"category id {cid!r} may use letters, digits, _ and -")
                cid = None
            elif cid is not None and cid in category_lines:
                ctx.error(
                    cpair[1],
                    f"duplicate category id {cid!r} (first on line {category_lines[cid]})",
                )
                cid = None
        name = _get(cfields, "name", lambda n: _text(ctx, n, "category name", lang0))
        if cid is not None:
            category_lines[cid] = cpair[1].start_mark.line + 1 if cpair else 0
            if name is not None:
                categories.append(Category(id=cid, name=name))
    return categories


def _sku(ctx: _Ctx, node: Node, sku_lines: dict[str, int]) -> str | None:
    sku = _scalar_text(ctx, node, "sku")
    if sku is None:
        return None
    if not SKU_RE.match(sku):
        ctx.error(
            node,
            f"bad sku {sku!r}: use 1-35 letters, digits, '.', '_' or '-' (no spaces)",
        )
        return None
    if sku in sku_lines:
        ctx.error(node, f"duplicate sku {sku!r} (first on line {sku_lines[sku]})")
        return None
    sku_lines[sku] = node.start_mark.line + 1
    return sku


def _product(
    ctx: _Ctx,
    node: Node,
    *,
    currency: str | None,
    lang0: str,
    categories: Mapping[str, int] | None,
    sku_lines: dict[str, int],
) -> Product | None:
    peeked = _peek(node, "sku")
    fields = _mapping(ctx, node, f"product {peeked}" if peeked else "product", _PRODUCT_KEYS)
    if fields is None:
        return None
    sku = _get(fields, "sku", lambda n: _sku(ctx, n, sku_lines))
    label = f"product {sku or peeked or ''}".strip()
    category: str | None = None
    if (pair := fields.get("category")) is not None:
        category = _scalar_text(ctx, pair[1], f"{label} category")
        if category is not None and categories is not None and category not in categories:
            known = ", ".join(categories) or "none defined"
            ctx.error(
                pair[1],
                f"unknown category {category!r}{_hint(category, categories)}; "
                f"categories are: {known}",
            )
            category = None
    name = _get(fields, "name", lambda n: _text(ctx, n, f"{label} name", lang0))
    price = _get(fields, "price", lambda n: _money(ctx, n, currency, f"{label} price"))
    aliases = tuple(
        a for a, _ in _str_list(ctx, fields["aliases"][1], f"{label} aliases")
    ) if "aliases" in fields else ()
    description = _get(
        fields, "description", lambda n: _text(ctx, n, f"{label} description", lang0)
    )
    unit = _get(fields, "unit", lambda n: _scalar_text(ctx, n, f"{label} unit"))
    stock = _get(fields, "stock", lambda n: _int(ctx, n, f"{label} stock"))
    hsn_code = _get(fields, "hsn", lambda n: hsn(ctx, n, f"{label} hsn"))
    rate = _get(fields, "gst_rate", lambda n: gst_rate(ctx, n, f"{label} gst_rate"))
    image: str | None = None
    if (pair := fields.get("image")) is not None:
        image = _scalar_text(ctx, pair[1], f"{label} image")
        if image is not None and not image.startswith(("https://", "http://")):
            ctx.error(pair[1], f"{label} image must be an http(s) URL, got {image!r}")
            image = None
    options: list[Option] = []
    if (pair := fields.get("options")) is not None:
        for item in _seq(ctx, pair[1], f"{label} options"):
            option = _option(
                ctx, item, currency=currency, lang0=lang0, label=label, sku_lines=sku_lines
            )
            if option is not None:
                options.append(option)
    if sku is None or category is None or name is None or price is None:
        return None
    return Product(
        sku=sku, category=category, name=name, price=price, aliases=aliases,
        description=description, unit=unit, stock=stock, image=image, options=tuple(options),
        hsn=hsn_code, gst_rate_bp=rate,
    )


def _option(
    ctx: _Ctx, node: Node, *, currency: str | None, lang0: str, label: str,
    sku_lines: dict[str, int],
) -> Option | None:
    peeked = _peek(node, "sku")
    fields = _mapping(ctx, node, f"option {peeked}" if peeked else f"{label} option", _OPTION_KEYS)
    if fields is None:
        return None
    sku = _get(fields, "sku", lambda n: _sku(ctx, n, sku_lines))
    olabel = f"option {sku}" if sku else f"{label} option"
    name = _get(fields, "name", lambda n: _text(ctx, n, f"{olabel} name", lang0))
    price = _get(fields, "price", lambda n: _money(ctx, n, currency, f"{olabel} price"))
    stock = _get(fields, "stock", lambda n: _int(ctx, n, f"{olabel} stock"))
    if sku is None or name is None or price is None:
        return None
    return Option(sku=sku, name=name, price=price, stock=stock)
