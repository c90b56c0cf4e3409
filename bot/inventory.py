"""Stock reservations: no overselling when many shoppers buy the last items at once.

The YAML ``stock`` is what the merchant had; orders *hold* units from the moment they are
placed, cancellation and payment expiry give them back, and the merchant's ``stock SKU N``
resets the count. Check-and-hold happens synchronously in memory (no ``await`` between the
check and the hold, so two concurrent checkouts in this process cannot both take the last
unit) and is written through to ``stock_levels`` in the same transaction as the order.

Several servers on one PostgreSQL (``shared=True``) cannot trust memory: the check reads the
shop's rows first (:meth:`Inventory.refresh`), and each hold is an atomic conditional update
(``held = held + n WHERE base - held >= n``, a guard), so two servers confirming the last
unit at once cannot both take it: the loser's write set conflicts, nothing of it is stored,
and its turn runs again on fresh counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from catalog.models import Catalog, Option, Product
from storage.database import Database, WriteSet

_UPSERT = ("INSERT INTO stock_levels (shop_id, sku, held, base_override, updated_at) "
           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (shop_id, sku) DO UPDATE SET "
           "held = excluded.held, base_override = excluded.base_override, "
           "updated_at = excluded.updated_at")
_ENSURE = ("INSERT INTO stock_levels (shop_id, sku, held, base_override, updated_at) "
           "VALUES (?, ?, 0, NULL, ?) ON CONFLICT (shop_id, sku) DO NOTHING")
_HOLD_IF = ("UPDATE stock_levels SET held = held + ?, updated_at = ? "
            "WHERE shop_id = ? AND sku = ? AND COALESCE(base_override, ?) - held >= ?")
_RELEASE = ("UPDATE stock_levels SET held = GREATEST(held - ?, 0), updated_at = ? "
            "WHERE shop_id = ? AND sku = ?")


def stock_pool(product: Product, option: Option | None) -> tuple[str, int | None]:
    """Which count a sku draws on: an option's own stock, else its product's."""
    if option is not None and option.stock is not None:
        return option.sku, option.stock
    return product.sku, product.stock


class Inventory:
    def __init__(self, db: Database, *, shared: bool = False) -> None:
        self._db = db
        self.shared = shared
        self._held: dict[tuple[str, str], int] = {}
        self._override: dict[tuple[str, str], int] = {}

    async def load(self) -> None:
        self._keep(await self._db.fetchall(
            "SELECT shop_id, sku, held, base_override FROM stock_levels"))

    def _keep(self, rows: Sequence[Sequence[Any]]) -> None:
        for shop_id, sku, held, override in rows:
            self._held[(shop_id, sku)] = int(held)
            if override is not None:
                self._override[(shop_id, sku)] = int(override)

    async def refresh(self, shop_id: str) -> None:
        """Shared mode: this shop's counts as the database has them now (other servers
        hold and release too). A no-op with one process, whose memory is the truth."""
        if not self.shared:
            return
        rows = await self._db.fetchall(
            "SELECT shop_id, sku, held, base_override FROM stock_levels WHERE shop_id = ?",
            (shop_id,))
        for key in [k for k in self._held if k[0] == shop_id]:
            del self._held[key]
        for key in [k for k in self._override if k[0] == shop_id]:
            del self._override[key]
        self._keep(rows)

    def available(self, shop_id: str, catalog: Catalog, sku: str) -> int | None:
        """Units that can still be ordered; None = unlimited."""
        hit = catalog.find_sku(sku)
        if hit is None:
            return 0
        pool, base = stock_pool(*hit)
        key = (shop_id, pool)
        base = self._override.get(key, base)
        if base is None:
            return None
        return max(base - self._held.get(key, 0), 0)

    def hold(self, shop_id: str, catalog: Catalog, wanted: Sequence[tuple[str, int]],
             writes: WriteSet, now_ms: int) -> tuple[list[tuple[str, int]], Callable[[], None]]:
        """Hold every line or none; returns the short lines (sku, available) and an undo."""
        pools: dict[str, int] = {}
        short: list[tuple[str, int]] = []
        for sku, quantity in wanted:
            hit = catalog.find_sku(sku)
            if hit is None:
                short.append((sku, 0))
                continue
            pool, base = stock_pool(*hit)
            if self._override.get((shop_id, pool), base) is None:
                continue
            pools[pool] = pools.get(pool, 0) + quantity
            left = self.available(shop_id, catalog, sku) or 0
            if pools[pool] > left:
                short.append((sku, max(left - (pools[pool] - quantity), 0)))
        if short:
            return short, lambda: None
        for pool, quantity in pools.items():
            if self.shared:
                base = self._base(shop_id, catalog, pool)
                writes.add(_ENSURE, (shop_id, pool, now_ms))
                writes.add(_HOLD_IF, (quantity, now_ms, shop_id, pool, base, quantity),
                           must_change=True)
                key = (shop_id, pool)
                self._held[key] = self._held.get(key, 0) + quantity
                continue
            self._change(shop_id, pool, quantity, writes, now_ms)

        def undo() -> None:
            for pool, quantity in pools.items():
                self._held[(shop_id, pool)] = self._held.get((shop_id, pool), 0) - quantity

        return [], undo

    def release(self, shop_id: str, catalog: Catalog, lines: Sequence[tuple[str, int]],
                writes: WriteSet, now_ms: int) -> None:
        for sku, quantity in lines:
            hit = catalog.find_sku(sku)
            if hit is None:
                continue
            pool, base = stock_pool(*hit)
            if self._override.get((shop_id, pool), base) is None:
                continue
            if self.shared:
                key = (shop_id, pool)
                self._held[key] = max(self._held.get(key, 0) - quantity, 0)
                writes.add(_RELEASE, (quantity, now_ms, shop_id, pool))
                continue
            self._change(shop_id, pool, -quantity, writes, now_ms)

    def set_stock(self, shop_id: str, sku: str, count: int, writes: WriteSet,
                  now_ms: int) -> None:
        """The merchant counted the shelf: ``count`` units from now on, none held."""
        key = (shop_id, sku)
        self._override[key] = count
        self._held[key] = 0
        writes.add(_UPSERT, (shop_id, sku, 0, count, now_ms))

    @staticmethod
    def _base(shop_id: str, catalog: Catalog, pool: str) -> int:
        """The YAML count of a pool (the merchant's override wins in the SQL)."""
        hit = catalog.find_sku(pool)
        base = stock_pool(*hit)[1] if hit is not None else None
        return base if base is not None else 0

    def _change(self, shop_id: str, pool: str, delta: int, writes: WriteSet,
                now_ms: int) -> None:
        key = (shop_id, pool)
        self._held[key] = max(self._held.get(key, 0) + delta, 0)
        writes.add(_UPSERT, (shop_id, pool, self._held[key], self._override.get(key), now_ms))
