"""Stock levels per item."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stock:
    """Quantities on hand, keyed by SKU."""

    levels: dict[str, int] = field(default_factory=dict)

    def add(self, sku: str, quantity: int) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.levels[sku] = self.levels.get(sku, 0) + quantity

    def remove(self, sku: str, quantity: int) -> None:
        on_hand = self.levels.get(sku, 0)
        if quantity > on_hand:
            raise ValueError(f"only {on_hand} of {sku} on hand")
        self.levels[sku] = on_hand - quantity

    def total(self) -> int:
        return sum(self.levels.values())
