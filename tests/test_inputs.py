"""Account data: every problem named by record and field, all at once; numbers read exactly."""

from __future__ import annotations

import io
import json
import os
import pathlib
from decimal import Decimal
from typing import Any

import pytest

import rulelang
from rulelang.datafiles import DataFileError, read_accounts
from rulelang.errors import InputError

RULES = """\
ruleset inputs

units USDT, BTC

input size: BTC >= 0
input side: long | short
input venue: text
input reduce_only: bool = false
input leverage: leverage >= 1x = 10x
input positions: list
    symbol: text
    quantity: BTC >= 0
    price: USDT/BTC > 0
    fee: USDT = 0 USDT

let total: BTC = size + sum(positions, quantity)
let fees: USDT = sum(positions, fee)
let blocked: bool = reduce_only and side == long and venue == "x"
let n_btc: number = count(positions, where symbol == "BTCUSDT" and price > 0 USDT/BTC)
let margin: USDT = sum(positions, quantity * price) / leverage
"""

GOOD: dict[str, Any] = {
    "size": 1,
    "side": "long",
    "venue": "OKX",
    "positions": [{"symbol": "BTCUSDT", "quantity": "0.5", "price": 20_000}],
}


@pytest.fixture(scope="module")
def rs() -> rulelang.Ruleset:
    return rulelang.load("inputs.rules", RULES)


def problems(rs: rulelang.Ruleset, data: Any) -> list[tuple[str, str]]:
    with pytest.raises(InputError) as info:
        rs.validate(data)
    return list(info.value.problems)


def with_(**changes: Any) -> dict[str, Any]:
    data = dict(GOOD)
    for k, v in changes.items():
        if v is ...:
            del data[k]
        else:
            data[k] = v
    return data


def test_a_good_account(rs: rulelang.Ruleset) -> None:
    r = rs.evaluate(GOOD)
    assert r["total"] == Decimal("1.5")
    # defaults: fee 0, leverage 10x, reduce_only false; 0.5 × 20,000 / 10 = 1,000
    assert r["fees"] == 0
    assert r["margin"] == Decimal("1000")
    assert r["blocked"] is False


def test_missing_fields_say_what_was_expected(rs: rulelang.Ruleset) -> None:
    assert problems(rs, {}) == [
        ("size", "missing; expected a number (in BTC)"),
        ("side", "missing; expected one of long, short"),
        ("venue", "missing; expected text"),
        ("positions", "missing; expected a list of records (use [] for none)"),
    ]


def test_optional_inputs_take_their_defaults_when_missing_or_null(rs: rulelang.Ruleset) -> None:
    assert rs.evaluate(with_(leverage=None, reduce_only=None))["margin"] == Decimal("1000")
    assert rs.evaluate(with_(leverage=20))["margin"] == Decimal("500")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "expected a number, got the text 'abc'"),
        ("", "expected a number, got the text ''"),
        ("1e", "expected a number, got the text '1e'"),
        (True, "expected a number, got true"),
        (False, "expected a number, got false"),
        (None, "expected a number, got null"),
        ([1], "expected a number, got a list"),
        ({"v": 1}, "expected a number, got an object"),
        (float("nan"), "expected a finite number, got nan"),
        (float("inf"), "expected a finite number, got inf"),
        (float("-inf"), "expected a finite number, got -inf"),
        ("nan", "expected a finite number, got nan"),
        ("NaN", "expected a finite number, got NaN"),
        ("sNaN", "expected a finite number, got sNaN"),
        ("Infinity", "expected a finite number, got Infinity"),
        ("-inf", "expected a finite number, got -inf"),
        (Decimal("NaN"), "expected a finite number, got NaN"),
        (Decimal("-Infinity"), "expected a finite number, got -Infinity"),
        (-1, "must be >= 0, got -1"),
        ("-0.000001", "must be >= 0, got -0.000001"),
        (Decimal("-1E-30"), "must be >= 0, got -0.000000000000000000000000000001"),
    ],
)
def test_bad_numbers(rs: rulelang.Ruleset, value: Any, message: str) -> None:
    assert problems(rs, with_(size=value)) == [("size", message)]


def test_bound_edges(rs: rulelang.Ruleset) -> None:
    assert rs.validate(with_(size=0)).scalars[0] == 0
    assert rs.validate(with_(size="-0")).scalars[0] == 0  # -0 is not below 0
    assert problems(rs, with_(leverage="0.99")) == [("leverage", "must be >= 1x, got 0.99")]
    bad_price = with_(positions=[{"symbol": "BTCUSDT", "quantity": 1, "price": 0}])
    assert problems(rs, bad_price) == [("positions[0].price", "must be > 0, got 0")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("side", "sideways", "expected one of long, short, got the text 'sideways'"),
        ("side", "Long", "expected one of long, short, got the text 'Long'"),
        ("side", " long", "expected one of long, short, got the text ' long'"),
        ("side", Decimal(1), "expected one of long, short, got the number 1"),
        ("side", None, "expected one of long, short, got null"),
        ("venue", Decimal(5), "expected a text, got the number 5"),
        ("venue", True, "expected a text, got true"),
        ("venue", None, "expected a text, got null"),
        ("reduce_only", 1, "expected true or false, got the number 1"),
        ("reduce_only", "yes", "expected true or false, got the text 'yes'"),
        ("positions", {"symbol": "BTCUSDT"}, "expected a list of records, got an object"),
        ("positions", "BTCUSDT", "expected a list of records, got the text 'BTCUSDT'"),
        ("positions", None, "expected a list of records, got null"),
    ],
)
def test_wrong_types(rs: rulelang.Ruleset, field: str, value: Any, message: str) -> None:
    assert problems(rs, with_(**{field: value})) == [(field, message)]


def test_booleans_read_from_text(rs: rulelang.Ruleset) -> None:
    assert rs.evaluate(with_(reduce_only="true", venue="x"))["blocked"] is True
    assert rs.evaluate(with_(reduce_only=" FALSE ", venue="x"))["blocked"] is False


def test_floats_are_read_through_their_shortest_text(rs: rulelang.Ruleset) -> None:
    assert rs.validate(with_(size=0.1)).scalars[0] == Decimal("0.1")
    assert str(rs.validate(with_(size=0.1)).scalars[0]) == "0.1"
    assert rs.validate(with_(size=1e-7)).scalars[0] == Decimal("1E-7")
    # the float 0.1 + 0.2 is 0.30000000000000004, and that is what it says
    assert rs.validate(with_(size=0.1 + 0.2)).scalars[0] == Decimal("0.30000000000000004")
    positions = [
        {"symbol": "BTCUSDT", "quantity": 0.1, "price": 0.2},
        {"symbol": "BTCUSDT", "quantity": 0.2, "price": 1},
    ]
    r = rs.evaluate(with_(size=0.1, positions=positions))
    assert r["total"] == Decimal("0.4")  # 0.1 + 0.1 + 0.2, exactly


def test_numeric_text_with_underscores_and_spaces(rs: rulelang.Ruleset) -> None:
    assert rs.validate(with_(size=" 1_000.5 ")).scalars[0] == Decimal("1000.5")


def test_collection_records_name_the_record_and_field(rs: rulelang.Ruleset) -> None:
    positions = [
        {"symbol": "BTCUSDT", "quantity": 1, "price": 1},
        {"symbol": "ETHUSDT", "quantity": "2", "price": "3", "fee": None},
        {"symbol": "BTCUSDT", "price": 1},
        7,
        {"symbol": 5, "quantity": None, "price": "x"},
    ]
    assert problems(rs, with_(positions=positions)) == [
        ("positions[2].quantity", "missing; expected a number (in BTC)"),
        ("positions[3]", "expected a record (an object), got the number 7"),
        ("positions[4].symbol", "expected a text, got the number 5"),
        ("positions[4].quantity", "expected a number, got null"),
        ("positions[4].price", "expected a number, got the text 'x'"),
    ]


def test_every_problem_is_reported_at_once(rs: rulelang.Ruleset) -> None:
    data = {
        "size": -3,
        "side": "up",
        "reduce_only": "maybe",
        "leverage": float("nan"),
        "positions": [{"symbol": "BTCUSDT", "quantity": True, "price": -1}],
    }
    with pytest.raises(InputError) as info:
        rs.evaluate(data, record="accounts.jsonl:7")
    err = info.value
    assert err.problems == (
        ("size", "must be >= 0, got -3"),
        ("side", "expected one of long, short, got the text 'up'"),
        ("venue", "missing; expected text"),
        ("reduce_only", "expected true or false, got the text 'maybe'"),
        ("leverage", "expected a finite number, got nan"),
        ("positions[0].quantity", "expected a number, got true"),
        ("positions[0].price", "must be > 0, got -1"),
    )
    assert str(err).splitlines() == [
        "accounts.jsonl:7: size: must be >= 0, got -3",
        "accounts.jsonl:7: side: expected one of long, short, got the text 'up'",
        "accounts.jsonl:7: venue: missing; expected text",
        "accounts.jsonl:7: reduce_only: expected true or false, got the text 'maybe'",
        "accounts.jsonl:7: leverage: expected a finite number, got nan",
        "accounts.jsonl:7: positions[0].quantity: expected a number, got true",
        "accounts.jsonl:7: positions[0].price: must be > 0, got -1",
    ]


def test_an_account_must_be_an_object(rs: rulelang.Ruleset) -> None:
    assert problems(rs, [1, 2]) == [("(account)", "expected an object with the inputs, got list")]


def test_unknown_keys_are_ignored(rs: rulelang.Ruleset) -> None:
    assert rs.evaluate(with_(comment="not an input"))["total"] == Decimal("1.5")


# ----------------------------------------------------------------- data files


def test_json_numbers_stay_exact(tmp_path: pathlib.Path, rs: rulelang.Ruleset) -> None:
    path = tmp_path / "a.json"
    path.write_text(
        '{"size": 0.1, "side": "long", "venue": "x", "positions": ['
        '{"symbol": "BTCUSDT", "quantity": 0.2, "price": 1.10000000000000000000000000001}]}'
    )
    [(name, data)] = list(read_accounts(str(path)))
    assert name == str(path)
    assert data["size"] == Decimal("0.1") and isinstance(data["size"], Decimal)
    assert data["positions"][0]["price"] == Decimal("1.10000000000000000000000000001")
    r = rs.evaluate(data)
    # 0.1 + 0.2 is exactly 0.3, not 0.30000000000000004
    assert r["total"] == Decimal("0.3")
    assert r.to_json()["total"] == "0.3"
    # 0.2 × 1.10000000000000000000000000001 / 10 = 0.022000000000000000000000000000200
    assert r.to_json()["margin"] == "0.0220000000000000000000000000002"


def test_json_array_and_jsonl_name_each_account(tmp_path: pathlib.Path) -> None:
    arr = tmp_path / "accounts.json"
    arr.write_text(json.dumps([{"size": "1"}, {"size": "2"}]))
    assert [n for n, _ in read_accounts(str(arr))] == [f"{arr}[0]", f"{arr}[1]"]
    lines = tmp_path / "accounts.jsonl"
    lines.write_text('{"size": 1e-1}\n\n{"size": 12345678901234567890.123456789}\n')
    got = list(read_accounts(str(lines)))
    assert got == [
        (f"{lines}:1", {"size": Decimal("0.1")}),
        (f"{lines}:3", {"size": Decimal("12345678901234567890.123456789")}),
    ]


def test_nan_in_json_is_rejected(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"size": NaN}')
    with pytest.raises(DataFileError, match="NaN is not a number rulelang accepts"):
        list(read_accounts(str(path)))
    lines = tmp_path / "a.jsonl"
    lines.write_text('{"size": 1}\n{"size": Infinity}\n')
    got = list(read_accounts(str(lines)))
    assert got[0] == (f"{lines}:1", {"size": Decimal(1)})
    assert got[1][0] == f"{lines}:2"
    assert isinstance(got[1][1], DataFileError)
    assert "Infinity is not a number rulelang accepts" in str(got[1][1])


def test_csv_cells_are_text_until_validated(tmp_path: pathlib.Path, rs: rulelang.Ruleset) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        'size,side,venue,positions\n0.1,long,x,"[{""symbol"": ""BTCUSDT"", ""quantity"": 0.2, ""price"": 3}]"\n'
        "0.7,short,y,[]\n"
    )
    got = list(read_accounts(str(path)))
    assert [n for n, _ in got] == [f"{path}:2", f"{path}:3"]
    assert got[0][1]["size"] == "0.1"
    assert rs.evaluate(got[0][1])["total"] == Decimal("0.3")
    assert rs.evaluate(got[1][1])["total"] == Decimal("0.7")


def test_unreadable_file_is_a_data_file_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DataFileError, match="cannot open"):
        list(read_accounts(str(tmp_path / "missing.json")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"size": 0.1}', [("<stdin>", {"size": Decimal("0.1")})]),
        (
            '[{"size": 1}, {"size": 2}]',
            [("<stdin>[0]", {"size": Decimal(1)}), ("<stdin>[1]", {"size": Decimal(2)})],
        ),
        (
            '{"size": 1}\n{"size": 2}\n',
            [("<stdin>:1", {"size": Decimal(1)}), ("<stdin>:2", {"size": Decimal(2)})],
        ),
        ("size,side\n0.1,long\n", [("<stdin>:2", {"size": "0.1", "side": "long"})]),
    ],
)
def test_stdin_format_is_detected_from_its_text(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: list[tuple[str, Any]]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert list(read_accounts("-")) == expected


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd")
def test_a_pipe_is_read_whole() -> None:
    r, w = os.pipe()
    try:
        os.write(w, b'{"size": 1}\n{"size": 2.50}\n')
        os.close(w)
        got = list(read_accounts(f"/dev/fd/{r}"))
    finally:
        os.close(r)
    assert [v for _, v in got] == [{"size": Decimal(1)}, {"size": Decimal("2.50")}]
