"""The shop's YAML catalog as Meta catalog items, what changed since the last sync, and the
``meta_catalog_items`` table that remembers what was pushed (the only module touching it).

Meta's Catalog Batch API (``POST /{catalog_id}/items_batch``, item_type ``PRODUCT_ITEM``)
takes records ``{"method": "CREATE" | "UPDATE" | "DELETE", "data": {...}}``; ``data.id``
is the retailer id, which for haat is the sku (what product and product-list messages and
``order`` webhooks carry as ``product_retailer_id``). A product with options is an item
group: each option is an item of its own with ``item_group_id`` set to the product's sku.
The HTTP half is webhooks/meta_catalog.py; this half is pure apart from the table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from bot.replies import shop_name
from catalog.models import Option, Product, Shop
from catalog.money import Money, currency_code, is_currency
from storage.database import Database, WriteSet

ITEM_TYPE: Final = "PRODUCT_ITEM"
# Meta accepts up to 5,000 records a call and recommends under 3,000
BATCH_SIZE: Final = 3000
TITLE_MAX: Final = 200
DESCRIPTION_MAX: Final = 9999
RETAILER_ID_MAX: Final = 100


class BatchMethod(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class BatchRequest:
    method: BatchMethod
    retailer_id: str
    data: Mapping[str, Any]
    fingerprint: str = ""  # of ``data``, stored once Meta accepted it (not for DELETE)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method.value, "data": dict(self.data)}


def meta_price(money: Money) -> str:
    """Meta's feed format: the amount in major units with its decimals, then the ISO code
    (``"149.50 INR"``, ``"500 JPY"``)."""
    return f"{money.to_decimal_string()} {currency_code(money.currency)}"


def _link(shop: Shop, sku: str) -> str:
    template = shop.whatsapp.product_url
    if template:
        return template.replace("{sku}", sku)
    return f"https://wa.me/{shop.phone.removeprefix('+')}"  # the chat with the shop


def _availability(stock: int | None) -> str:
    return "out of stock" if stock is not None and stock <= 0 else "in stock"


def _item(shop: Shop, product: Product, option: Option | None,
          available: Callable[[str], int | None] | None) -> dict[str, Any]:
    lang = shop.default_language
    title = product.name.get(lang)
    if option is not None:
        title = f"{title} ({option.name.get(lang)})"
    description = product.description.get(lang) if product.description else ""
    sku = option.sku if option is not None else product.sku
    if available is not None:  # the live count: the merchant's `stock`, less what orders hold
        stock = available(sku)
    else:
        stock = option.stock if option is not None and option.stock is not None \
            else product.stock
    data: dict[str, Any] = {
        "id": option.sku if option is not None else product.sku,
        "title": title[:TITLE_MAX],
        "description": (description or title)[:DESCRIPTION_MAX],
        "availability": _availability(stock),
        "condition": "new",
        "price": meta_price(option.price if option is not None else product.price),
        "link": _link(shop, option.sku if option is not None else product.sku),
        "brand": shop_name(shop, lang)[:100],
    }
    if product.image:
        data["image_link"] = product.image
    if option is not None:
        data["item_group_id"] = product.sku
    return data


def catalog_items(shop: Shop, available: Callable[[str], int | None] | None = None,
                  ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every item the shop's Meta catalog should hold (retailer id → data), and what keeps
    a product out of it (Meta refuses an item without an image or an ISO currency).
    ``available`` gives a sku's units left (bot/inventory.py); without it the YAML stock."""
    items: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    if not is_currency(currency_code(shop.currency)):
        return {}, [f"currency {shop.currency} is not one Meta's catalogs accept"]
    for product in shop.catalog.products:
        if not product.image:
            problems.append(f"{product.sku}: no image (Meta requires image_link)")
            continue
        for option in product.options or (None,):
            data = _item(shop, product, option, available)
            if len(data["id"]) > RETAILER_ID_MAX:
                problems.append(f"{data['id']}: sku longer than {RETAILER_ID_MAX}")
                continue
            items[data["id"]] = data
    return items, problems


def fingerprint(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


def plan(desired: Mapping[str, Mapping[str, Any]],
         previous: Mapping[str, str]) -> list[BatchRequest]:
    """CREATE what was never synced, UPDATE what changed, DELETE what left the YAML."""
    out: list[BatchRequest] = []
    for retailer_id, data in desired.items():
        print_ = fingerprint(data)
        if retailer_id not in previous:
            out.append(BatchRequest(BatchMethod.CREATE, retailer_id, data, print_))
        elif previous[retailer_id] != print_:
            out.append(BatchRequest(BatchMethod.UPDATE, retailer_id, data, print_))
    out.extend(BatchRequest(BatchMethod.DELETE, retailer_id, {"id": retailer_id})
               for retailer_id in previous if retailer_id not in desired)
    return out


def chunks(requests: Sequence[BatchRequest],
           size: int = BATCH_SIZE) -> list[Sequence[BatchRequest]]:
    return [requests[i:i + size] for i in range(0, len(requests), size)]


# ---- the table ------------------------------------------------------------------------

_PREVIOUS = ("SELECT retailer_id, fingerprint FROM meta_catalog_items "
             "WHERE shop_id = ? AND catalog_id = ?")
_UPSERT = ("INSERT INTO meta_catalog_items (shop_id, catalog_id, retailer_id, fingerprint, "
           "synced_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (shop_id, catalog_id, retailer_id) "
           "DO UPDATE SET fingerprint = excluded.fingerprint, synced_at = excluded.synced_at")
_DELETE = ("DELETE FROM meta_catalog_items WHERE shop_id = ? AND catalog_id = ? "
           "AND retailer_id = ?")


async def previous(db: Database, shop_id: str, catalog_id: str) -> dict[str, str]:
    """retailer id → fingerprint of what Meta last accepted for this shop's catalog."""
    rows = await db.fetchall(_PREVIOUS, (shop_id, catalog_id))
    return {str(row[0]): str(row[1]) for row in rows}


REFUSED: Final = ""  # the fingerprint of an item Meta refused: sent again, as an UPDATE


async def synced_skus(db: Database, shop_id: str, catalog_id: str) -> frozenset[str]:
    """The skus product messages may name: Meta holds them (a sync accepted them)."""
    return frozenset(rid for rid, print_ in (await previous(db, shop_id, catalog_id)).items()
                     if print_ != REFUSED)


def record(writes: WriteSet, shop_id: str, catalog_id: str,
           accepted: Sequence[BatchRequest], refused: Sequence[BatchRequest],
           now_ms: int) -> None:
    """Remember what Meta accepted. A refused item is remembered as refused, so the next
    sync sends it again as an UPDATE, which Meta applies whether or not it holds the item
    (``allow_upsert``): a CREATE refused because the item exists, or an UPDATE of an item
    removed by hand in Commerce Manager, cannot refuse forever. A refused DELETE is
    forgotten (it is reported; the merchant removes the item by hand if Meta kept it)."""
    for request in accepted:
        if request.method is BatchMethod.DELETE:
            writes.add(_DELETE, (shop_id, catalog_id, request.retailer_id))
        else:
            writes.add(_UPSERT, (shop_id, catalog_id, request.retailer_id,
                                 request.fingerprint, now_ms))
    for request in refused:
        if request.method is BatchMethod.DELETE:
            writes.add(_DELETE, (shop_id, catalog_id, request.retailer_id))
        else:
            writes.add(_UPSERT, (shop_id, catalog_id, request.retailer_id, REFUSED, now_ms))


class MetaCatalogs:
    """The flows' view of the shops' Meta catalogs: which skus a product message or an
    order card may name (those a sync got accepted)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def synced(self, shop: Shop) -> frozenset[str]:
        catalog_id = shop.whatsapp.catalog_id
        if catalog_id is None:
            return frozenset()
        return await synced_skus(self._db, shop.id, catalog_id)
