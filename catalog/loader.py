"""Shop folder → frozen models, with every error pointing at FILE:LINE:COL.

Merchants edit YAML by hand, so the loader's job is mostly to explain mistakes well: it
reads the YAML *node graph* (``yaml.compose``), never plain ``safe_load``, so each value
keeps its position; it keeps going after an error so one ``haat check`` shows them all;
and it reads prices from the node's raw text so a YAML number never passes through float.

A shop folder holds ``shop.yaml``, ``catalog.yaml`` and optionally ``nlu.yml``; a folder of
such folders is a multi-shop deployment. :class:`ShopSource` re-reads them when they change
and keeps the last good shops when an edit is invalid.

This module loads and reloads; the readers are beside it: catalog/nodes.py (YAML nodes and
their errors), catalog/shop_schema.py, catalog/catalog_schema.py, catalog/nlu_schema.py.
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from catalog.catalog_schema import _parse_catalog
from catalog.invoice_schema import finish_invoice
from catalog.models import (
    Catalog,
    OpeningHours,
    Payments,
    Shop,
    WhatsAppCommerce,
)
from catalog.nlu_schema import _parse_nlu, strip_annotations
from catalog.nodes import (
    _WATCHED,
    CATALOG_FILE,
    NLU_FILE,
    SHOP_FILE,
    LoadError,
    ShopError,
    _Ctx,
    _read,
    _sort,
)
from catalog.plugin_rules import PluginRules
from catalog.shop_schema import (
    _parse_shop,
    _ShopParts,
)

# the loader is the package's entry point: what callers import from it
__all__ = [
    "CATALOG_FILE",
    "NLU_FILE",
    "SHOP_FILE",
    "LoadError",
    "PluginRules",
    "ShopError",
    "ShopSource",
    "check_shop",
    "check_shop_with_warnings",
    "is_shop_folder",
    "load_shop",
    "load_shops",
    "phone_digits",
    "shop_folders",
    "strip_annotations",
]


def _load_one(
    folder: Path, shop_id: str | None, plugins: PluginRules
) -> tuple[Shop | None, list[LoadError], list[LoadError]]:
    shop_ctx = _Ctx(str(folder / SHOP_FILE))
    catalog_ctx = _Ctx(str(folder / CATALOG_FILE))
    nlu_ctx = _Ctx(str(folder / NLU_FILE))
    parts = _ShopParts(plugins)
    if (root := _read(shop_ctx, folder / SHOP_FILE)) is not None:
        parts = _parse_shop(shop_ctx, root, plugins)
    catalog: Catalog | None = None
    if (root := _read(catalog_ctx, folder / CATALOG_FILE)) is not None:
        catalog = _parse_catalog(catalog_ctx, root, parts.currency, parts.languages[0])
    nlu: dict[str, tuple[str, ...]] = {}
    if (folder / NLU_FILE).exists() and (root := _read(nlu_ctx, folder / NLU_FILE)) is not None:
        nlu = _parse_nlu(nlu_ctx, root, plugins.intents)
    invoice = parts.invoice
    if invoice is not None and catalog is not None:
        invoice, cross = finish_invoice(invoice, shop_id or folder.resolve().name,
                                        catalog.products, shop_ctx.file, parts.invoice_node)
        shop_ctx.errors.extend(cross)
    errors = _sort(shop_ctx.errors + catalog_ctx.errors + nlu_ctx.errors)
    warnings = _sort(shop_ctx.warnings + catalog_ctx.warnings + nlu_ctx.warnings)
    if errors:
        return None, errors, warnings
    if not (parts.name and parts.phone and parts.currency and parts.timezone and catalog):
        # every reader reports its own failure; this guards a gap rather than trusting it
        return None, [LoadError(shop_ctx.file, 1, 1, "incomplete shop: see the guide")], warnings
    shop = Shop(
        id=shop_id or folder.resolve().name,
        name=parts.name,
        phone=parts.phone,
        currency=parts.currency,
        timezone=parts.timezone,
        languages=parts.languages,
        hours=parts.hours or OpeningHours.always(),
        owners=parts.owners,
        payments=parts.payments or Payments(),
        catalog=catalog,
        delivery=parts.delivery,
        replies=parts.replies or MappingProxyType({}),
        faq=parts.faq,
        closed_for_orders=parts.closed_for_orders,
        handoff_quiet_minutes=parts.handoff_quiet_minutes,
        max_quantity=parts.max_quantity,
        templates=parts.templates or MappingProxyType({}),
        marketing_opt_in=parts.marketing_opt_in,
        nlu_examples=MappingProxyType(nlu),
        assets=MappingProxyType(dict(parts.assets or {})),
        whatsapp=parts.whatsapp or WhatsAppCommerce(),
        invoice=invoice,
    )
    return shop, errors, warnings


def load_shop(folder: Path, shop_id: str | None = None, *, plugins: PluginRules) -> Shop:
    """Load one shop folder; raises :class:`ShopError` listing every problem.

    ``plugins``: what the registered providers and the NLU allow (every loader function
    takes it; ``webhooks/plugins.py:plugin_rules`` builds it from the registries)."""
    shop, errors, _warnings = _load_one(Path(folder), shop_id, plugins)
    if shop is None:
        raise ShopError(errors)
    return shop


def is_shop_folder(path: Path) -> bool:
    return (Path(path) / SHOP_FILE).is_file()


def shop_folders(path: Path) -> list[Path]:
    """The shop folders under ``path``: itself, or each subfolder holding shop.yaml."""
    path = Path(path)
    if is_shop_folder(path):
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir() and is_shop_folder(p))


def _load_many(path: Path, plugins: PluginRules
               ) -> tuple[dict[str, Shop], list[LoadError], list[LoadError]]:
    path = Path(path)
    folders = shop_folders(path)
    if not folders:
        missing = LoadError(
            str(path / SHOP_FILE), 1, 1,
            f"no {SHOP_FILE} in {path} (nor in any folder inside it)",
        )
        return {}, [missing], []
    shops: dict[str, Shop] = {}
    errors: list[LoadError] = []
    warnings: list[LoadError] = []
    single = len(folders) == 1 and folders[0] == path
    for folder in folders:
        shop, errs, warns = _load_one(folder, None if single else folder.name, plugins)
        errors += errs
        warnings += warns
        if shop is not None:
            shop_id, frozen = shop.id, _freeze(shop)
            shop = None  # the original goes first, so the copy can reuse its memory
            shops[shop_id] = _thaw(frozen)
    errors += _phone_clashes(shops, path)
    return shops, errors, warnings


def _proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return _proxy, (dict(proxy),)


def _freeze(shop: Shop) -> bytes:
    """A loaded shop as bytes, to be rebuilt by :func:`_thaw` once the original is gone.

    Reading the YAML node graph (positions for every value) leaves its garbage spread
    between the objects we keep, and the allocator can hand back none of those half-used
    blocks. Dropping the original and rebuilding it in one pass packs it densely: a fresh
    process that loaded a generated 10,000-product catalog (``bench.growth.write_shop``) held
    64 MB of RSS through :func:`load_shop`, which keeps the original, and 40 MB through
    :func:`load_shops`, which rebuilds it (Debian's Python 3.11, 2026-11-22). A private
    pickler, so no global pickling rule changes.
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _reduce_proxy}
    pickler.dump(shop)
    return buffer.getvalue()


def _thaw(frozen: bytes) -> Shop:
    shop: Shop = pickle.loads(frozen)  # noqa: S301 (bytes _freeze just wrote)
    return shop


def _phone_clashes(shops: Mapping[str, Shop], root: Path) -> list[LoadError]:
    """Two shops with one business number could not be told apart on inbound messages."""
    seen: dict[str, str] = {}
    out: list[LoadError] = []
    for shop in shops.values():
        digits = phone_digits(shop.phone)
        if digits in seen:
            out.append(LoadError(
                str(root / shop.id / SHOP_FILE), 1, 1,
                f"phone {shop.phone} is also the phone of shop {seen[digits]!r}",
            ))
        else:
            seen[digits] = shop.id
    return out


def load_shops(path: Path, *, plugins: PluginRules) -> dict[str, Shop]:
    """One shop (``path`` holds shop.yaml) or many (each subfolder), keyed by shop id."""
    shops, errors, _warnings = _load_many(Path(path), plugins)
    if errors:
        raise ShopError(_sort(errors))
    return shops


def check_shop_with_warnings(folder: Path, *, plugins: PluginRules
                             ) -> tuple[list[LoadError], list[LoadError]]:
    """Errors and warnings for a shop folder or a folder of shops (``haat check``)."""
    _shops, errors, warnings = _load_many(Path(folder), plugins)
    return _sort(errors), _sort(warnings)


def check_shop(folder: Path, *, plugins: PluginRules) -> list[LoadError]:
    """Only the errors: an empty list means the folder would load."""
    return check_shop_with_warnings(folder, plugins=plugins)[0]


def phone_digits(number: str) -> str:
    """``whatsapp:+91 98000-00000`` → ``919800000000``."""
    text = number.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[9:]
    return "".join(ch for ch in text if ch.isdigit())


# --------------------------------------------------------------------------------------
# live reload

_Signature = tuple[tuple[str, int, int], ...]


def _signature(folder: Path) -> _Signature:
    out: list[tuple[str, int, int]] = []
    for name in _WATCHED:
        try:
            st = os.stat(folder / name)
        except OSError:
            out.append((name, -1, -1))
        else:
            out.append((name, st.st_mtime_ns, st.st_size))
    return tuple(out)


class ShopSource:
    """The current good shops of a folder, re-read when a YAML file changes.

    ``poll()`` costs a few ``stat`` calls when nothing changed. Each shop folder is
    reloaded on its own: a broken edit to one shop keeps that shop's last good version
    serving and leaves the others alone. ``version`` grows on every successful change so
    callers can rebuild caches (search indexes) cheaply.
    """

    def __init__(self, path: Path, *, plugins: PluginRules) -> None:
        self.path = Path(path)
        self.plugins = plugins
        self._multi = not is_shop_folder(self.path)
        self._sigs = self._scan()
        shops, errors, warnings = _load_many(self.path, plugins)
        if errors:
            raise ShopError(_sort(errors))
        self.shops: dict[str, Shop] = shops
        self.warnings: list[LoadError] = warnings
        self.version = 0

    def _scan(self) -> dict[Path, _Signature]:
        return {folder: _signature(folder) for folder in shop_folders(self.path)}

    def poll(self) -> list[LoadError] | None:
        """None when nothing changed; else the errors of the reload ([] = all good)."""
        sigs = self._scan()
        if sigs == self._sigs:
            return None
        changed = [f for f, sig in sigs.items() if self._sigs.get(f) != sig]
        removed = [f for f in self._sigs if f not in sigs]
        self._sigs = sigs
        shops = dict(self.shops)
        errors: list[LoadError] = []
        for folder in removed:
            shops.pop(self._id(folder), None)
        reloaded = 0
        for folder in changed:
            shop, errs, _warns = _load_one(folder, self._id(folder), self.plugins)
            if shop is None:
                errors += errs  # keep the last good version of this shop
            else:
                shops[shop.id] = shop
                reloaded += 1
        clashes = _phone_clashes(shops, self.path)
        if clashes:
            return _sort(errors + clashes)
        if reloaded or removed:  # something new to serve
            self.shops = shops
            self.version += 1
        return _sort(errors)

    def _id(self, folder: Path) -> str:
        return folder.name if self._multi else self.path.resolve().name
