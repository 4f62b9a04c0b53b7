"""`lookup(t.from, size)` and `lookup(t.to, size)`: the edges of the band a size falls in."""

from __future__ import annotations

from decimal import Decimal

import pytest

import rulelang
from rulelang.values import NoSolution
from tests.helpers import check_text

# OKX-style bands, upper-inclusive: 0-3,000, 3,000-6,000, 6,000 and above
RULES = """\
units contracts
input size: contracts >= 0
table tiers: contracts
    bands from < size <= to
    | from  | to    | mmr  |
    | 0     | 3_000 | 0.4% |
    | 3_000 | 6_000 | 0.5% |
    | 6_000 | inf   | 1%   |
let top: contracts = lookup(tiers.to, size)
let bottom: contracts = lookup(tiers.from, size)
let room: contracts = if known(top) then top - size else 0
"""


@pytest.mark.parametrize(
    ("size", "top", "bottom", "room"),
    [
        ("0", "3000", "0", "3000"),  # the first band includes its lower edge
        ("3000", "3000", "0", "0"),  # upper-inclusive: 3,000 is still in band 1
        ("3001", "6000", "3000", "2999"),
        ("6000", "6000", "3000", "0"),
    ],
)
def test_edges_of_the_band(size: str, top: str, bottom: str, room: str) -> None:
    rs = rulelang.load("edges.rules", RULES)
    for r in (rs.evaluate({"size": size}), rs.evaluate_reference({"size": size})):
        assert (r["top"], r["bottom"], r["room"]) == (Decimal(top), Decimal(bottom), Decimal(room))


def test_the_open_band_has_no_top() -> None:
    rs = rulelang.load("edges.rules", RULES)
    r = rs.evaluate({"size": "7000"})
    assert r["top"] == NoSolution("the last band has no upper end")
    assert (r["bottom"], r["room"]) == (Decimal("6000"), Decimal("0"))
    assert r.to_json()["top"] == {"none": "the last band has no upper end"}


def test_edges_are_read_with_lookup_only() -> None:
    text = RULES + "let bad: contracts = step(tiers.to, size)\n"
    errors = [d for d in check_text(text) if d.is_error]
    assert [(d.code, d.message) for d in errors] == [
        ("RL0304", "`to` is a band edge, not a rate: read it with `lookup(tiers.to, size)`")
    ]
