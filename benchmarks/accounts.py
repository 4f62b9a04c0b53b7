"""Generate deterministic random accounts for ``rulesets/bench/account.rules``.

Output: a list of plain mappings shaped as an exchange's JSON would deliver
them, every amount a decimal string with the instrument's own precision (lot
size, tick size, 8 decimals for coins). The same seed gives the same accounts
on every machine.

The accounts are spread across the whole risk ladder: the leverage of each
account is drawn so that some are safe, some are warned, some are reduce-only
and some are liquidated, and positions reach into the higher brackets.
"""

from __future__ import annotations

import math
import random
from typing import Any

#: symbol -> (typical mark price, quantity decimals, price decimals, cap of the last bracket)
SYMBOLS: dict[str, tuple[float, int, int, float]] = {
    "BTCUSDT": (64_000.0, 3, 1, 1_800_000_000.0),
    "ETHUSDT": (2_500.0, 3, 2, 1_200_000_000.0),
    "SOLUSDT": (150.0, 0, 3, 100_000_000.0),
    "BNBUSDT": (580.0, 2, 2, 50_000_000.0),
}

#: collateral asset -> typical index price in USD (USDT uses the account's USDT index)
ASSETS: dict[str, float] = {"USDT": 1.0, "BTC": 64_000.0, "ETH": 2_500.0}


def _fixed(x: float, places: int) -> str:
    return f"{x:.{places}f}"


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def account(rng: random.Random) -> dict[str, Any]:
    """One account: 1 to 3 collateral assets and 2 to 6 positions."""
    usdt_index = rng.uniform(0.999, 1.001)
    collateral = []
    total = 0.0
    for asset in rng.sample(sorted(ASSETS), rng.randint(1, 3)):
        value = _log_uniform(rng, 2_000, 20_000_000)
        price = usdt_index if asset == "USDT" else ASSETS[asset] * rng.uniform(0.9, 1.1)
        amount = value / price
        collateral.append(
            {
                "asset": asset,
                "amount": _fixed(amount, 2 if asset == "USDT" else 8),
                "price": _fixed(price, 4 if asset == "USDT" else 2),
            }
        )
        total += value
    # Account leverage (notional / collateral) decides where the account lands on the ladder.
    leverage = _log_uniform(rng, 0.5, 120)
    count = rng.randint(2, 6)
    weights = [rng.random() + 0.05 for _ in range(count)]
    marks = {s: p * rng.uniform(0.9, 1.1) for s, (p, _, _, _) in SYMBOLS.items()}
    positions = []
    for w in weights:
        symbol = rng.choice(sorted(SYMBOLS))
        _, qty_places, price_places, cap = SYMBOLS[symbol]
        mark = marks[symbol]
        # stay inside the symbol's last bracket: the exchange would refuse a larger position
        notional = min(total * leverage * w / sum(weights), 0.9 * cap)
        quantity = max(notional / mark, 10.0**-qty_places)
        entry = mark * (1 + rng.uniform(-0.02, 0.02))
        positions.append(
            {
                "symbol": symbol,
                "side": rng.choice(("long", "short")),
                "quantity": _fixed(quantity, qty_places),
                "entry_price": _fixed(entry, price_places),
                "mark_price": _fixed(mark, price_places),
            }
        )
    return {"usdt_index": _fixed(usdt_index, 4), "collateral": collateral, "positions": positions}


def accounts(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` accounts from ``seed``."""
    rng = random.Random(seed)
    return [account(rng) for _ in range(count)]
