"""Write the sample book: 10,000 cross-margin accounts for rulesets/bench/account.rules.

    python examples/book/generate.py            # writes examples/book/accounts.jsonl
    python examples/book/generate.py --count 500 --seed 7 -o /tmp/book.jsonl

The output depends only on the seed and the count (Python's ``random.Random``
is stable across versions for ``random()``, ``randint`` and ``choices``), so the
shipped file can be regenerated and compared byte for byte. Numbers are written
as decimal strings, read exactly by rulelang.

Each account holds 0 to 3 positions (BTCUSDT, ETHUSDT, SOLUSDT, BNBUSDT) with
notionals spread log-uniformly from 1,000 to 5,000,000 USDT, entry prices within
±3 % of the mark, and collateral (USDT, sometimes BTC and ETH) sized so that the
margin ratio lands around a target drawn from a mixture: most accounts safe,
some near each line of the ladder (150 %, 120 %, 105 %), a few below.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
from decimal import ROUND_HALF_EVEN, Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
MARKS = {"BTCUSDT": 64_000, "ETHUSDT": 2_500, "SOLUSDT": 150, "BNBUSDT": 600}
WEIGHTS = [40, 30, 20, 10]
# a rough maintenance rate per symbol, to aim the margin ratio (the rules compute the real one)
RATES = {"BTCUSDT": 0.005, "ETHUSDT": 0.005, "SOLUSDT": 0.012, "BNBUSDT": 0.02}


def q(x: float, places: int) -> str:
    """``x`` rounded to ``places`` decimals, as plain decimal text."""
    d = Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return format(d.normalize(), "f") if d else "0"


def target_ratio(rng: random.Random) -> float:
    """The margin ratio to aim at: mostly safe, with mass around each line of the ladder."""
    band = rng.choices(["safe", "warning", "reduce", "liq", "deep"], weights=[55, 20, 12, 9, 4])[0]
    bands = {"safe": (1.5, 6.0), "warning": (1.2, 1.6), "reduce": (1.05, 1.25), "liq": (0.95, 1.1), "deep": (0.3, 1.0)}
    low, high = bands[band]
    return rng.uniform(low, high)


def account(rng: random.Random) -> dict[str, object]:
    usdt_index = rng.choice(["1", "1", "1", "0.9995", "1.0002"])
    n = rng.choices([0, 1, 2, 3], weights=[3, 50, 30, 17])[0]
    positions = []
    need = 0.0
    pnl = 0.0
    for symbol in rng.choices(list(MARKS), weights=WEIGHTS, k=n):
        mark = MARKS[symbol] * rng.uniform(0.99, 1.01)
        notional = math.exp(rng.uniform(math.log(1_000), math.log(5_000_000)))
        quantity = float(q(notional / mark, 3)) or 0.001
        entry = mark * rng.uniform(0.97, 1.03)
        side = rng.choice(["long", "short"])
        mark_t, entry_t = q(mark, 2), q(entry, 2)
        positions.append(
            {"symbol": symbol, "side": side, "quantity": q(quantity, 3), "entry_price": entry_t, "mark_price": mark_t}
        )
        move = (float(mark_t) - float(entry_t)) * quantity
        pnl += move if side == "long" else -move
        need += quantity * float(mark_t) * (RATES[symbol] + 0.0005)
    equity = target_ratio(rng) * need - pnl if n else rng.uniform(100, 50_000)
    equity = max(equity, 0.0)
    collateral = []
    if equity and rng.random() < 0.3:
        btc_share = rng.uniform(0.1, 0.6)
        price = 64_000 * rng.uniform(0.99, 1.01)
        collateral.append({"asset": "BTC", "amount": q(equity * btc_share / price / 0.95, 6), "price": q(price, 2)})
        equity *= 1 - btc_share
    if equity and rng.random() < 0.2:
        eth_share = rng.uniform(0.1, 0.5)
        price = 2_500 * rng.uniform(0.99, 1.01)
        collateral.append({"asset": "ETH", "amount": q(equity * eth_share / price / 0.95, 5), "price": q(price, 2)})
        equity *= 1 - eth_share
    collateral.insert(0, {"asset": "USDT", "amount": q(equity, 2), "price": "1"})
    return {"usdt_index": usdt_index, "collateral": collateral, "positions": positions}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=20241024)
    ap.add_argument("-o", "--output", default=os.path.join(HERE, "accounts.jsonl"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with open(args.output, "w", encoding="utf-8", newline="\n") as fh:
        for _ in range(args.count):
            fh.write(json.dumps(account(rng), separators=(",", ":")) + "\n")
    print(f"wrote {args.count:,} accounts to {args.output}")


if __name__ == "__main__":
    main()
