"""The benchmark account computed by hand: the baseline the compiled evaluator is held to.

This is ``rulesets/bench/account.rules`` written the way a competent engineer
would write it without rulelang: tables as constants, band lookups by bisect
with precomputed maintenance amounts (Binance's ``cum``), one pass over the
records. Input is read from the same JSON-shaped mapping the engine takes,
with the same checks (required fields, numbers read through their decimal
text, enumerations, bounds), failing on the first problem.

Two versions share the tables and the formulas: :func:`evaluate_decimal`
(exact, 34 significant digits as in rulelang's runtime, so results agree to
the last digit) and :func:`evaluate_float` (binary floating point, for scale).
"""

from __future__ import annotations

import bisect
import decimal
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

N = TypeVar("N", Decimal, float)

#: The evaluation context of rulelang's runtime: decimal128 precision, half-even.
CONTEXT = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

# Tables as text, copied from rulesets/bench/account.rules (the benchmark
# checks that both give the same figures on every account). Rates are written
# as the rule file's percent literals read (100 % is 1.00, 10 % is 0.10), so
# the results agree in exponent as well as in value.

#: asset -> (floor, cap or None, collateral ratio), value in USD
HAIRCUTS: dict[str, list[tuple[str, str | None, str]]] = {
    "USDT": [
        ("0", "1000000", "1.00"),
        ("1000000", "5000000", "0.975"),
        ("5000000", "10000000", "0.95"),
        ("10000000", None, "0.90"),
    ],
    "BTC": [
        ("0", "2000000", "0.95"),
        ("2000000", "10000000", "0.925"),
        ("10000000", "50000000", "0.90"),
        ("50000000", None, "0.80"),
    ],
    "ETH": [
        ("0", "1000000", "0.95"),
        ("1000000", "5000000", "0.90"),
        ("5000000", "20000000", "0.85"),
        ("20000000", None, "0.70"),
    ],
}

#: symbol -> (floor, cap, maintenance margin rate, max leverage), notional in USDT
BRACKETS: dict[str, list[tuple[str, str, str, str]]] = {
    "BTCUSDT": [
        ("0", "50000", "0.004", "125"),
        ("50000", "600000", "0.005", "100"),
        ("600000", "3000000", "0.0065", "75"),
        ("3000000", "12000000", "0.01", "50"),
        ("12000000", "70000000", "0.02", "25"),
        ("70000000", "100000000", "0.025", "20"),
        ("100000000", "230000000", "0.05", "10"),
        ("230000000", "480000000", "0.10", "5"),
        ("480000000", "600000000", "0.125", "4"),
        ("600000000", "800000000", "0.15", "3"),
        ("800000000", "1200000000", "0.25", "2"),
        ("1200000000", "1800000000", "0.50", "1"),
    ],
    "ETHUSDT": [
        ("0", "50000", "0.004", "125"),
        ("50000", "600000", "0.005", "100"),
        ("600000", "3000000", "0.0065", "75"),
        ("3000000", "12000000", "0.01", "50"),
        ("12000000", "50000000", "0.02", "25"),
        ("50000000", "65000000", "0.025", "20"),
        ("65000000", "150000000", "0.05", "10"),
        ("150000000", "320000000", "0.10", "5"),
        ("320000000", "400000000", "0.125", "4"),
        ("400000000", "530000000", "0.15", "3"),
        ("530000000", "800000000", "0.25", "2"),
        ("800000000", "1200000000", "0.50", "1"),
    ],
    "SOLUSDT": [
        ("0", "10000", "0.005", "75"),
        ("10000", "50000", "0.01", "50"),
        ("50000", "250000", "0.015", "40"),
        ("250000", "1000000", "0.02", "25"),
        ("1000000", "5000000", "0.025", "20"),
        ("5000000", "10000000", "0.05", "10"),
        ("10000000", "20000000", "0.10", "5"),
        ("20000000", "30000000", "0.125", "4"),
        ("30000000", "50000000", "0.15", "3"),
        ("50000000", "100000000", "0.25", "2"),
    ],
    "BNBUSDT": [
        ("0", "10000", "0.01", "50"),
        ("10000", "50000", "0.015", "40"),
        ("50000", "200000", "0.02", "25"),
        ("200000", "1000000", "0.025", "20"),
        ("1000000", "2000000", "0.05", "10"),
        ("2000000", "5000000", "0.10", "5"),
        ("5000000", "10000000", "0.125", "4"),
        ("10000000", "20000000", "0.15", "3"),
        ("20000000", "30000000", "0.25", "2"),
        ("30000000", "50000000", "0.50", "1"),
    ],
}

LIQUIDATION_FEE_RATE = "0.0005"
LIQUIDATION_LINE = "1.05"
REDUCE_ONLY_LINE = "1.20"
WARNING_LINE = "1.50"

SIDES = ("long", "short")


class InputError(ValueError):
    """An account field is missing or malformed."""


class Bands(Generic[N]):
    """Lower-inclusive bands ``floor <= size < cap`` with a rate and an optional extra column.

    ``charge(size)`` is the progressive sum of each slice at its own band's
    rate, computed as ``size × rate − cum`` with the maintenance amounts
    ``cum`` precomputed (exact for Decimal).
    """

    def __init__(self, rows: Sequence[tuple[N, N, N, N]], zero: N) -> None:
        self.floors: list[N] = [r[0] for r in rows]
        self.caps: list[N] = [r[1] for r in rows]
        self.rates: list[N] = [r[2] for r in rows]
        self.extra: list[N] = [r[3] for r in rows]
        self.cums: list[N] = [zero]
        for i in range(1, len(rows)):
            self.cums.append(self.cums[-1] + self.floors[i] * (self.rates[i] - self.rates[i - 1]))

    def index(self, size: N) -> int:
        i = bisect.bisect_right(self.floors, size) - 1
        if i < 0 or size >= self.caps[i]:
            raise ValueError(f"size {size} is outside the bands")
        return i

    def charge(self, size: N) -> N:
        i = self.index(size)
        charge: N = size * self.rates[i] - self.cums[i]
        return charge


@dataclass(slots=True)
class Collateral(Generic[N]):
    asset: str
    amount: N
    price: N


@dataclass(slots=True)
class Position(Generic[N]):
    symbol: str
    side: str
    quantity: N
    entry_price: N
    mark_price: N


@dataclass(slots=True)
class Account(Generic[N]):
    usdt_index: N
    collateral: list[Collateral[N]]
    positions: list[Position[N]]


@dataclass(slots=True)
class CollateralResult(Generic[N]):
    value: N
    discounted_value: N


@dataclass(slots=True)
class PositionResult(Generic[N]):
    notional: N
    unrealized_pnl: N
    maintenance_margin: N
    max_leverage: N
    liquidation_fee: N


@dataclass(slots=True)
class AccountResult(Generic[N]):
    collateral: list[CollateralResult[N]]
    positions: list[PositionResult[N]]
    collateral_value: N
    total_unrealized_pnl: N
    total_maintenance_margin: N
    total_liquidation_fee: N
    equity: N
    maintenance: N
    has_requirement: bool
    margin_ratio: N
    risk_level: str


class Model(Generic[N]):
    """Tables and parameters in one number type, with that type's input reader."""

    def __init__(self, number: Callable[[object, str], N], const: Callable[[str], N]) -> None:
        self.number: Callable[[object, str], N] = number
        self.zero: N = const("0")
        zero = self.zero
        self.haircuts: dict[str, Bands[N]] = {
            asset: Bands([(const(lo), const(hi or "Infinity"), const(r), zero) for lo, hi, r in rows], zero)
            for asset, rows in HAIRCUTS.items()
        }
        self.brackets: dict[str, Bands[N]] = {
            symbol: Bands([(const(lo), const(hi), const(r), const(lev)) for lo, hi, r, lev in rows], zero)
            for symbol, rows in BRACKETS.items()
        }
        self.fee_rate: N = const(LIQUIDATION_FEE_RATE)
        self.liquidation_line: N = const(LIQUIDATION_LINE)
        self.reduce_only_line: N = const(REDUCE_ONLY_LINE)
        self.warning_line: N = const(WARNING_LINE)

    # ------------------------------------------------------------ input
    def parse(self, data: Mapping[str, Any]) -> Account[N]:
        """Read and check an account mapping; raise :class:`InputError` on the first problem."""
        number = self.number
        usdt_index = number(_get(data, "usdt_index", ""), "usdt_index")
        if usdt_index <= 0:
            raise InputError(f"usdt_index: must be > 0, got {usdt_index}")
        collateral = []
        for i, rec in enumerate(_records(data, "collateral")):
            where = f"collateral[{i}]."
            asset = _get(rec, "asset", where)
            if asset not in self.haircuts:
                raise InputError(f"{where}asset: expected one of {', '.join(self.haircuts)}, got {asset!r}")
            amount = number(_get(rec, "amount", where), f"{where}amount")
            price = number(_get(rec, "price", where), f"{where}price")
            if amount < 0 or price < 0:
                raise InputError(f"{where}amount, price: must be >= 0, got {amount}, {price}")
            collateral.append(Collateral(asset, amount, price))
        positions = []
        for i, rec in enumerate(_records(data, "positions")):
            where = f"positions[{i}]."
            symbol = _get(rec, "symbol", where)
            if symbol not in self.brackets:
                raise InputError(f"{where}symbol: no brackets for {symbol!r}")
            side = _get(rec, "side", where)
            if side not in SIDES:
                raise InputError(f"{where}side: expected long or short, got {side!r}")
            quantity = number(_get(rec, "quantity", where), f"{where}quantity")
            entry = number(_get(rec, "entry_price", where), f"{where}entry_price")
            mark = number(_get(rec, "mark_price", where), f"{where}mark_price")
            if quantity < 0 or entry <= 0 or mark <= 0:
                raise InputError(f"{where}quantity, entry_price, mark_price: must be >= 0, > 0, > 0")
            positions.append(Position(symbol, side, quantity, entry, mark))
        return Account(usdt_index, collateral, positions)

    # ------------------------------------------------------------ computation
    def compute(self, account: Account[N]) -> AccountResult[N]:
        """Equity, maintenance requirement, margin ratio and risk level of a parsed account."""
        coll_results = []
        collateral_value = self.zero
        for c in account.collateral:
            value = c.amount * c.price
            discounted = self.haircuts[c.asset].charge(value)
            coll_results.append(CollateralResult(value, discounted))
            collateral_value += discounted
        pos_results = []
        pnl_total = mm_total = fee_total = self.zero
        for p in account.positions:
            notional = p.quantity * p.mark_price
            if p.side == "long":
                pnl = (p.mark_price - p.entry_price) * p.quantity
            else:
                pnl = (p.entry_price - p.mark_price) * p.quantity
            bands = self.brackets[p.symbol]
            i = bands.index(notional)
            mm = notional * bands.rates[i] - bands.cums[i]
            fee = notional * self.fee_rate
            pos_results.append(PositionResult(notional, pnl, mm, bands.extra[i], fee))
            pnl_total += pnl
            mm_total += mm
            fee_total += fee
        equity = collateral_value + pnl_total * account.usdt_index
        maintenance = (mm_total + fee_total) * account.usdt_index
        has_requirement = maintenance > 0
        ratio = equity / maintenance if has_requirement else self.zero
        if has_requirement and ratio <= self.liquidation_line:
            level = "liquidation"
        elif has_requirement and ratio <= self.reduce_only_line:
            level = "reduce_only"
        elif has_requirement and ratio <= self.warning_line:
            level = "warning"
        else:
            level = "safe"
        return AccountResult(
            coll_results,
            pos_results,
            collateral_value,
            pnl_total,
            mm_total,
            fee_total,
            equity,
            maintenance,
            has_requirement,
            ratio,
            level,
        )


def _get(rec: Mapping[str, Any], name: str, prefix: str) -> Any:
    try:
        return rec[name]
    except KeyError:
        raise InputError(f"{prefix}{name}: missing") from None


def _records(data: Mapping[str, Any], name: str) -> Sequence[Mapping[str, Any]]:
    recs = _get(data, name, "")
    if not isinstance(recs, list) or not all(isinstance(r, Mapping) for r in recs):
        raise InputError(f"{name}: expected a list of records")
    return recs


def read_decimal(value: object, where: str) -> Decimal:
    """A number read exactly through its decimal text."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
        raise InputError(f"{where}: expected a number, got {value!r}")
    try:
        d = Decimal(str(value))
    except decimal.InvalidOperation:
        raise InputError(f"{where}: expected a number, got {value!r}") from None
    if not d.is_finite():
        raise InputError(f"{where}: expected a finite number, got {value!r}")
    return d


def read_float(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
        raise InputError(f"{where}: expected a number, got {value!r}")
    try:
        f = float(value)
    except ValueError:
        raise InputError(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(f):
        raise InputError(f"{where}: expected a finite number, got {value!r}")
    return f


DECIMAL: Model[Decimal] = Model(read_decimal, Decimal)
FLOAT: Model[float] = Model(read_float, float)


def evaluate_decimal(data: Mapping[str, Any]) -> AccountResult[Decimal]:
    """Read and evaluate one account exactly."""
    account = DECIMAL.parse(data)
    with decimal.localcontext(CONTEXT):
        return DECIMAL.compute(account)


def compute_decimal(account: Account[Decimal]) -> AccountResult[Decimal]:
    """Evaluate an account already read by ``DECIMAL.parse``."""
    with decimal.localcontext(CONTEXT):
        return DECIMAL.compute(account)


def evaluate_float(data: Mapping[str, Any]) -> AccountResult[float]:
    """Read and evaluate one account in binary floating point."""
    return FLOAT.compute(FLOAT.parse(data))
