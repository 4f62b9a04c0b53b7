"""OKX position tiers and collateral discount-rate tiers.

Input: the response of ``GET /api/v5/public/position-tiers`` (sizes in
contracts for swaps and futures) or of ``GET
/api/v5/public/discount-rate-interest-free-quota``; the ``data`` list alone, or
(discount rates) one currency's entry, is read too. Output: ``tiers: contracts
per instrument`` with bands ``from < size <= to`` and columns ``imr``, ``mmr``,
``max_leverage``; or ``discounts: UNIT per ccy`` with bands
``from < amount <= to`` and the column ``discount``.

Both are upper-inclusive. OKX announces integer contract tiers as 0–3,000,
3,001–6,000: a size of 3,000 is in tier 1, so the tier's end is inclusive; the
tiers are written 0–3,000, 3,000–6,000 (each boundary once). For discount
rates the docs define ``disCcyEq`` as the discounted equity "if your equity is
the maxAmt", computed with the tier itself, so ``maxAmt`` belongs to its tier.
"""

from __future__ import annotations

from decimal import Decimal

from rulelang.display import plain
from rulelang.importers.jsondata import Node
from rulelang.importers.model import Band, Column, Edge, Options, TableData, chain, select, unit_of
from rulelang.runtime import WIDE

POSITION_TIERS = "okx-position-tiers"
DISCOUNT_RATE = "okx-discount-rate"


def _rows(root: Node, what: str) -> list[Node]:
    """The ``data`` list of an OKX response (after checking ``code``), or a bare list."""
    if root.is_list():
        return root.items(what)
    if root.has("code"):
        code = root.field("code")
        if code.value not in ("0", Decimal(0)):
            msg = root.field("msg").value if root.has("msg") else ""
            code.fail(f"the response is an error (code {code.value}): {msg or 'no message'}")
    if root.has("data"):
        return root.field("data").items(what)
    return [root]


def _key(row: Node) -> tuple[str, Node]:
    for name in ("instFamily", "instId", "uly"):
        node = row.field(name)
        if isinstance(node.value, str) and node.value.strip():
            return node.text(), node
    row.fail("expected a non-empty instFamily, instId or uly to name the instrument")


def read_position_tiers(root: Node, options: Options) -> TableData:
    groups: dict[str, list[Node]] = {}
    for row in _rows(root, "a list of tiers"):
        key, _ = _key(row)
        groups.setdefault(key, []).append(row)
    sets: dict[str, list[Band]] = {}
    stepped = False
    for key, rows in groups.items():
        edges = [
            Edge(
                lower=r.field("minSz").amount(),
                upper=r.field("maxSz").number(empty_is_infinite=True),
                lower_node=r.field("minSz"),
                upper_node=r.field("maxSz"),
                node=r,
            )
            for r in rows
        ]
        bands = chain(edges, what="tier", integer_steps=True)
        stepped |= any(e.lower != lower for e, (lower, _) in zip(edges, bands, strict=True))
        sets[key] = [
            Band(
                number=i + 1,
                lower=lower,
                upper=upper,
                values=(r.field("imr").amount(), r.field("mmr").amount(), r.field("maxLever").amount()),
                path=r.path,
            )
            for i, (r, (lower, upper)) in enumerate(zip(rows, bands, strict=True))
        ]
    return TableData(
        kind=POSITION_TIERS,
        title="OKX position tiers",
        name=options.table or "tiers",
        unit=options.unit or "contracts",
        key_column="instrument",
        key_plural="instruments",
        size_word="size",
        lower_inclusive=False,
        label=("Position tiers", "仓位档位"),
        columns=(
            Column(name="imr", style="percent"),
            Column(name="mmr", style="percent"),
            Column(name="max_leverage", style="leverage"),
        ),
        tier_sets=select(options, sets, "instrument", root),
        tier_word="tier",
        cum_source=None,
        date=None,
        notes=(
            ("OKX lists integer tiers (0 to 3,000, 3,001 to 6,000); each boundary is written once here.",)
            if stepped
            else ()
        ),
    )


def read_discount_rate(root: Node, options: Options) -> TableData:
    one = root.is_object() and root.has("details")  # one currency's entry, without the response around it
    entries = [root] if one else _rows(root, "a list of currencies")
    sets: dict[str, list[Band]] = {}
    units: dict[str, list[tuple[str | None, Node]]] = {}
    dates: dict[str, Node] = {}
    notes: dict[str, str] = {}
    warnings: dict[str, list[str]] = {}
    for entry in entries:
        ccy_node = entry.field("ccy")
        ccy = ccy_node.text()
        if ccy in sets:
            ccy_node.fail(f"{ccy} appears twice")
        # tiers in USD say so (`tierUnit`, in announcements); the API's are in the currency itself
        unit = entry.field("tierUnit") if entry.has("tierUnit") else ccy_node
        units[ccy] = [(unit.text(), unit)]
        if entry.has("effective"):
            dates.setdefault(entry.field("effective").text(), entry.field("effective"))
        if entry.has("before"):
            notes[ccy] = f"{ccy}: only `details` is imported; the file's `before` tiers are not."
        details = entry.field("details").items("a list of tiers")
        edges = [
            Edge(
                lower=d.field("minAmt").amount(),
                upper=d.field("maxAmt").number(empty_is_infinite=True),
                lower_node=d.field("minAmt"),
                upper_node=d.field("maxAmt"),
                node=d,
            )
            for d in details
        ]
        bands: list[Band] = []
        discounted = Decimal(0)
        for i, (d, (lower, upper)) in enumerate(zip(details, chain(edges, what="tier"), strict=True)):
            rate = d.field("discountRate").amount()
            comment = None
            stated = d.field("disCcyEq")
            if upper is not None:
                discounted = WIDE.add(discounted, WIDE.multiply(WIDE.subtract(upper, lower), rate))  # exactly
                if not stated.missing and stated.value != "":
                    given = stated.amount()
                    if given != discounted:
                        comment = f"disCcyEq {plain(given)} stated; the tiers give {plain(discounted)}"
                        warnings.setdefault(ccy, []).append(
                            f"{ccy} tier {i + 1}: disCcyEq {plain(given)} stated, {plain(discounted)} derived"
                        )
            bands.append(Band(number=i + 1, lower=lower, upper=upper, values=(rate,), path=d.path, comment=comment))
        last = bands[-1]
        floor = entry.field("minDiscountRate")
        if last.upper is not None and not floor.missing and floor.value != "":
            bands.append(
                Band(
                    number=len(bands) + 1,
                    lower=last.upper,
                    upper=None,
                    values=(floor.amount(),),
                    path=floor.path,
                    comment="minDiscountRate: the rate beyond the last tier",
                )
            )
        sets[ccy] = bands
    tier_sets = select(options, sets, "ccy", root)
    date = next(iter(dates)) if len(dates) == 1 else None
    return TableData(
        kind=DISCOUNT_RATE,
        title="OKX collateral discount-rate tiers",
        name=options.table or "discounts",
        unit=unit_of(options, units, tier_sets, root, "discount tiers"),
        key_column="ccy",
        key_plural="currencies",
        size_word="amount",
        lower_inclusive=False,
        label=("Collateral discount rates", "币种折算率"),
        columns=(Column(name="discount", style="percent"),),
        tier_sets=tier_sets,
        tier_word="tier",
        cum_source=None,
        date=date,
        date_origin=f"`{dates[date].path}` in the file" if date is not None else None,
        key_notes=tuple((t.key, notes[t.key]) for t in tier_sets if t.key in notes),
        extra_warnings=tuple(w for t in tier_sets for w in warnings.get(t.key, ())),
    )
