"""Plain-text reports over a Stock."""

from __future__ import annotations

from inventory.stock import Stock


def summary(stock: Stock) -> str:
    lines = [f"{sku}: {qty}" for sku, qty in sorted(stock.levels.items())]
    lines.append(f"total: {stock.total()}")
    return "\n".join(lines)
