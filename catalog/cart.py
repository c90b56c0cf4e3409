"""The shopper's cart: pure, immutable, priced against a catalog on demand.

A :class:`Cart` is only skus and quantities, so it stores as a tiny ``{sku: qty}`` dict and
survives catalog edits: prices, names, stock and delivery fees are applied by
:func:`price_cart` at the moment they are shown, and anything that no longer fits (a sku
removed, an item sold out, less stock than wanted) comes back as a :class:`CartProblem`
for the bot to explain, never as an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from catalog.models import Catalog, Delivery, Option, Product, Text
from catalog.money import Money

MAX_QUANTITY = 99  # per line: a typo like "100 chai" should be questioned, not ordered

UNKNOWN = "unknown"  # the sku is no longer in the catalog
SOLD_OUT = "sold_out"
OVER_STOCK = "over_stock"  # more wanted than available


class CartError(ValueError):
    """A cart change that cannot be made; ``code`` says which rule, for the reply."""

    def __init__(self, code: str, message: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.limit = limit


@dataclass(frozen=True, slots=True)
class CartLine:
    sku: str
    quantity: int


def _check_quantity(quantity: int) -> None:
    if type(quantity) is not int or quantity < 1:
        raise CartError("bad_quantity", f"quantity must be a whole number ≥ 1, got {quantity!r}")
    if quantity > MAX_QUANTITY:
        raise CartError(
            "max_quantity", f"at most {MAX_QUANTITY} of one item", limit=MAX_QUANTITY
        )


@dataclass(frozen=True, slots=True)
class Cart:
    """Lines in the order they were first added; every change returns a new cart."""

    lines: tuple[CartLine, ...] = ()

    # queries ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.lines)

    def __contains__(self, sku: object) -> bool:
        return any(line.sku == sku for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def quantity_of(self, sku: str) -> int:
        return next((line.quantity for line in self.lines if line.sku == sku), 0)

    # changes ---------------------------------------------------------------------------
    def add(self, sku: str, quantity: int = 1) -> Cart:
        """Add to an existing line or append one; the line total may not pass the max."""
        _check_quantity(quantity)
        current = self.quantity_of(sku)
        if current + quantity > MAX_QUANTITY:
            raise CartError(
                "max_quantity",
                f"at most {MAX_QUANTITY} of one item (already {current} in the cart)",
                limit=MAX_QUANTITY - current,
            )
        if current:
            return self.set_quantity(sku, current + quantity)
        return Cart((*self.lines, CartLine(sku, quantity)))

    def set_quantity(self, sku: str, quantity: int) -> Cart:
        """Exact quantity for a sku; 0 removes the line, a new sku is appended."""
        if type(quantity) is int and quantity == 0:
            return self.remove(sku)
        _check_quantity(quantity)
        if sku not in self:
            return Cart((*self.lines, CartLine(sku, quantity)))
        return Cart(tuple(
            CartLine(sku, quantity) if line.sku == sku else line for line in self.lines
        ))

    def remove(self, sku: str, quantity: int | None = None) -> Cart:
        """Drop the line, or take ``quantity`` off it (removing it when nothing is left)."""
        current = self.quantity_of(sku)
        if not current:
            raise CartError("not_in_cart", f"{sku} is not in the cart")
        if quantity is not None:
            if type(quantity) is not int or quantity < 1:
                raise CartError("bad_quantity", f"quantity must be ≥ 1, got {quantity!r}")
            if quantity < current:
                return self.set_quantity(sku, current - quantity)
        return Cart(tuple(line for line in self.lines if line.sku != sku))

    def clear(self) -> Cart:
        return Cart()

    # storage ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, int]:
        return {line.sku: line.quantity for line in self.lines}

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> Cart:
        """Read a stored cart leniently: a bad entry is dropped, never a crash mid-chat."""
        if not data:
            return cls()
        lines: list[CartLine] = []
        for sku, qty in data.items():
            if not isinstance(sku, str) or not sku or type(qty) is not int or qty < 1:
                continue
            lines.append(CartLine(sku, min(qty, MAX_QUANTITY)))
        return cls(tuple(lines))


# ---------------------------------------------------------------------------------------
# pricing


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    name: Text
    unit_price: Money
    quantity: int
    line_total: Money


@dataclass(frozen=True, slots=True)
class CartProblem:
    """A line that cannot be ordered as is; ``available`` is the stock left, if limited."""

    sku: str
    kind: str  # UNKNOWN | SOLD_OUT | OVER_STOCK
    wanted: int
    available: int | None = None
    name: Text | None = None


@dataclass(frozen=True, slots=True)
class PricedCart:
    lines: tuple[PricedLine, ...]
    subtotal: Money
    delivery_fee: Money
    total: Money
    problems: tuple[CartProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the cart can become an order exactly as shown."""
        return bool(self.lines) and not self.problems

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


def line_name(product: Product, option: Option | None) -> Text:
    """"Masala Chai (Large)" in every language the product is named in."""
    if option is None:
        return product.name
    return Text(MappingProxyType({
        lang: f"{text} ({option.name.get(lang)})" for lang, text in product.name.by_lang.items()
    }))


def _stock_pool(product: Product, option: Option | None) -> tuple[str, int | None]:
    """Which stock a line draws on: the option's own, else the product's (shared)."""
    if option is not None and option.stock is not None:
        return option.sku, option.stock
    return product.sku, product.stock


def price_cart(
    cart: Cart, catalog: Catalog, delivery: Delivery | None, currency: str,
    available: Callable[[str], int | None] | None = None,
) -> PricedCart:
    """Price every line at today's catalog; lines with problems are reported.

    Unknown and sold-out lines are left out of the totals; a line wanting more than the
    stock is priced as wanted and flagged, so the bot can offer the available amount.
    """
    lines: list[PricedLine] = []
    problems: list[CartProblem] = []
    used: dict[str, int] = {}
    subtotal = Money.zero(currency)
    for line in cart.lines:
        found = catalog.find_sku(line.sku)
        if found is None:
            problems.append(CartProblem(line.sku, UNKNOWN, line.quantity))
            continue
        product, option = found
        name = line_name(product, option)
        pool, stock = _stock_pool(product, option)
        if available is not None:
            # live counts (the merchant's `stock` and what open orders hold) win over YAML
            stock = available(line.sku)
            sold_out = stock == 0
        else:
            sold_out = product.sold_out or stock == 0
        if sold_out:
            problems.append(CartProblem(line.sku, SOLD_OUT, line.quantity, 0, name))
            continue
        if stock is not None:
            left = stock - used.get(pool, 0)
            used[pool] = used.get(pool, 0) + line.quantity
            if line.quantity > left:
                problems.append(
                    CartProblem(line.sku, OVER_STOCK, line.quantity, max(left, 0), name)
                )
        unit = option.price if option is not None else product.price
        line_total = unit * line.quantity
        subtotal = subtotal + line_total
        lines.append(PricedLine(line.sku, name, unit, line.quantity, line_total))
    fee = delivery_fee(subtotal, delivery, currency, has_items=bool(lines))
    return PricedCart(tuple(lines), subtotal, fee, subtotal + fee, tuple(problems))


def delivery_fee(
    subtotal: Money, delivery: Delivery | None, currency: str, has_items: bool = True
) -> Money:
    """The shop's fee, or zero: no delivery set up, nothing to deliver, or free above."""
    if delivery is None or not has_items:
        return Money.zero(currency)
    if delivery.free_above is not None and subtotal.minor >= delivery.free_above.minor:
        return Money.zero(currency)
    return delivery.fee
