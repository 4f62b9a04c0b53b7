"""The command line: check, eval, explain, test, dump; exit codes 0 ok, 1 rule/test failure, 2 usage/input."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from rulelang.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "good"
TIERED = str(ROOT / "rulesets" / "okx" / "tiered_margin.rules")
LADDERS = str(CORPUS / "params_and_ladders.rules")
EXAMPLES = ROOT / "examples"

Capsys = pytest.CaptureFixture[str]

BAD_RULES = """\
ruleset bad

units USDT, BTC

input amount: USDT
input size: BTC

let b: USDT = amount + amout
let c: USDT = amount + size
"""

FAILING_EXAMPLE = """\
ruleset failing

units USDT

input a: USDT

let twice: USDT = a * 2

example "right"
    given a = 2 USDT
    expect twice = 4 USDT

example "wrong"
    given a = 2 USDT
    expect twice = 5 USDT
"""

BRIEF = {"assets": 8_000, "loss": 2_000, "borrowed": 9_000}


def run(capsys: Capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ----------------------------------------------------------------- check


def test_check_clean(capsys: Capsys) -> None:
    code, out, err = run(capsys, "check", TIERED, str(CORPUS))
    assert code == 0
    assert out == ""
    assert err.strip().endswith("0 error(s), 0 warning(s)")
    assert err.strip().startswith("checked 15 file(s)")


def test_check_reports_every_error(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "bad.rules", BAD_RULES)
    code, _, err = run(capsys, "check", path)
    assert code == 1
    assert f"{path}:8:24: error[RL0201]: undefined name `amout`" in err
    assert "  = help: did you mean `amount`?" in err
    assert f"{path}:9:22: error[RL0301]: cannot add an amount in BTC to an amount in USDT" in err
    assert err.strip().endswith("checked 1 file(s): 2 error(s), 0 warning(s)")


def test_check_json(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "bad.rules", BAD_RULES)
    code, out, err = run(capsys, "check", path, TIERED, "--format", "json")
    assert code == 1
    assert err == ""
    diags = [json.loads(line) for line in out.splitlines()]
    assert diags == [
        {
            "code": "RL0201",
            "severity": "error",
            "message": "undefined name `amout`",
            "file": path,
            "line": 8,
            "column": 24,
            "hint": "did you mean `amount`?",
        },
        {
            "code": "RL0301",
            "severity": "error",
            "message": "cannot add an amount in BTC to an amount in USDT",
            "file": path,
            "line": 9,
            "column": 22,
            "hint": "both sides of `+` and `-` must have the same unit",
        },
    ]


def test_check_missing_file_is_a_usage_error(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    code, _, err = run(capsys, "check", str(tmp_path / "nope.rules"))
    assert code == 2
    assert "no such file" in err


# ----------------------------------------------------------------- eval


def test_eval_json_object(capsys: Capsys) -> None:
    code, out, err = run(capsys, "eval", TIERED, "-i", str(EXAMPLES / "position_120_btc.json"))
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["record"] == str(EXAMPLES / "position_120_btc.json")
    assert result["maintenance_margin_btc"] == "1.05"
    assert result["initial_margin"] == "181000"


def test_eval_json_array(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "a.json", json.dumps([BRIEF, {"assets": 13_501, "borrowed": 9_000}]))
    code, out, _ = run(capsys, "eval", LADDERS, "-i", path)
    assert code == 0
    results = json.loads(out)
    assert [r["record"] for r in results] == [f"{path}[0]", f"{path}[1]"]
    assert [r["risk_level"]["level"] for r in results] == ["liquidation", "safe"]
    assert results[0]["risk_level"]["actions"] == ["full_liquidation"]


def test_eval_jsonl_in_and_out(capsys: Capsys) -> None:
    path = str(EXAMPLES / "tiered_margin_accounts.jsonl")
    code, out, _ = run(capsys, "eval", TIERED, "-i", path, "--format", "jsonl")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) >= 3
    assert lines[0]["record"] == f"{path}:1"
    by_margin = {(r["maintenance_margin_btc"], r["initial_margin"]) for r in lines}
    assert ("1.05", "181000") in by_margin


def test_eval_csv(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "a.csv", "assets,loss,borrowed\n8000,2000,9000\n9900,,9000\n")
    code, out, _ = run(capsys, "eval", LADDERS, "-i", path)
    assert code == 0
    results = json.loads(out)
    assert [r["record"] for r in results] == [f"{path}:2", f"{path}:3"]
    # an empty cell takes the input's default (loss = 0): 9,900 / 9,000 = 1.1
    assert results[1]["risk_rate"] == "1.1"
    assert [r["risk_level"]["level"] for r in results] == ["liquidation", "safe"]


def test_eval_csv_with_a_nested_collection(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    rules = str(CORPUS / "brackets_per_symbol.rules")
    path = write(
        tmp_path,
        "p.csv",
        'positions,main_notional\n"[{""symbol"": ""BTCUSDT"", ""notional"": 264000}]",7000\n',
    )
    code, out, _ = run(capsys, "eval", rules, "-i", path)
    assert code == 0
    result = json.loads(out)
    assert result["positions"][0]["mm"] == "1340"
    assert result["main_mm"] == "28"


def test_eval_table(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "eval", TIERED, "-i", str(EXAMPLES / "position_120_btc.json"), "--format", "table")
    assert code == 0
    assert "okx_tiered_margin" in out
    assert "1.05 BTC" in out
    assert "181,000 USDT" in out


def test_eval_bad_record_in_a_batch(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        "b.jsonl",
        json.dumps(BRIEF)
        + "\n"
        + '{"assets": "x", "borrowed": -1}\n'
        + '{"assets": 13501, "borrowed": 9000}\n'
        + "not json\n",
    )
    code, out, err = run(capsys, "eval", LADDERS, "-i", path, "--format", "jsonl")
    assert code == 2
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["record"] for r in lines] == [f"{path}:{n}" for n in (1, 2, 3, 4)]
    assert lines[0]["risk_level"]["level"] == "liquidation"
    assert lines[1]["error"] == [
        {"field": "assets", "message": "expected a number, got the text 'x'"},
        {"field": "borrowed", "message": "must be >= 0, got -1"},
    ]
    assert lines[2]["health"]["level"] == "green"
    assert lines[3]["error"][0]["field"] == "(record)"
    assert f"{path}:2: assets: expected a number, got the text 'x'" in err
    assert f"{path}:2: borrowed: must be >= 0, got -1" in err
    assert f"{path}:4: (record): not valid JSON" in err


def test_eval_bad_record_in_a_table(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "b.json", json.dumps([BRIEF, {"assets": 1}]))
    code, out, err = run(capsys, "eval", LADDERS, "-i", path, "--format", "table")
    assert code == 2
    assert "liquidation" in out and "error" in out
    assert f"{path}[1]: borrowed: missing; expected a number (in USDT)" in err


def test_eval_evaluation_error_names_the_formula(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    rules = str(CORPUS / "brackets_per_symbol.rules")
    path = write(
        tmp_path,
        "a.json",
        json.dumps([{"positions": [{"symbol": "BTCUSDT", "notional": 8_000_000}]}, {"positions": []}]),
    )
    code, out, err = run(capsys, "eval", rules, "-i", path)
    assert code == 2
    results = json.loads(out)
    assert "positions[0].mm" in results[0]["error"]
    assert results[1]["total_mm"] == "0"
    assert "in positions[0].mm: table `brackets`" in err


def test_eval_param_override_and_profile(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "a.json", json.dumps(BRIEF))
    levels = []
    for extra in (
        [],
        ["--param", "liquidation_line=60%"],
        ["-p", "liquidation_line = 0.6"],
        ["--profile", "vip1"],
        ["--profile", "vip1", "--param", "liquidation_line=70%"],
    ):
        code, out, _ = run(capsys, "eval", LADDERS, "-i", path, *extra)
        assert code == 0
        levels.append(json.loads(out)["risk_level"]["level"])
    assert levels == ["liquidation", "warning", "warning", "warning", "liquidation"]
    code, out, _ = run(capsys, "eval", LADDERS, "-i", path, "--profile", "vip1")
    assert json.loads(out)["liquidation_fee"] == "4.5"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "liquidation_line"], "--param expects NAME=VALUE"),
        (["--param", "liquidation_lin=60%"], "did you mean `liquidation_line`"),
        (["--param", "liquidation_line=lots"], "expected a number"),
        (["--profile", "vip9"], "unknown profile `vip9`"),
    ],
)
def test_eval_bad_params_are_usage_errors(
    capsys: Capsys, tmp_path: pathlib.Path, extra: list[str], message: str
) -> None:
    path = write(tmp_path, "a.json", json.dumps(BRIEF))
    code, _, err = run(capsys, "eval", LADDERS, "-i", path, *extra)
    assert code == 2
    assert message in err


def test_eval_unreadable_input_is_a_usage_error(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    code, _, err = run(capsys, "eval", LADDERS, "-i", str(tmp_path / "missing.json"))
    assert code == 2
    assert "cannot open" in err
    bad = write(tmp_path, "bad.json", "{not json")
    code, _, err = run(capsys, "eval", LADDERS, "-i", bad)
    assert code == 2
    assert "not valid JSON" in err


def test_eval_with_a_broken_ruleset_is_a_rule_failure(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    rules = write(tmp_path, "bad.rules", BAD_RULES)
    data = write(tmp_path, "a.json", "{}")
    code, _, err = run(capsys, "eval", rules, "-i", data)
    assert code == 1
    assert "error[RL0201]" in err


def test_argparse_errors_exit_2(capsys: Capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval", LADDERS])  # no --input
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    capsys.readouterr()


# ----------------------------------------------------------------- explain


def test_explain_value(capsys: Capsys) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        TIERED,
        "-i",
        str(EXAMPLES / "position_120_btc.json"),
        "--value",
        "maintenance_margin_btc",
    )
    assert code == 0
    assert out.startswith("maintenance_margin_btc = 1.05 BTC")
    for line in ("    tier 1: 50 × 0.5% = 0.25", "    tier 2: 50 × 1% = 0.5", "    tier 3: 20 × 1.5% = 0.3"):
        assert line in out.splitlines()
    assert "initial_margin" not in out


def test_explain_json_and_record(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        "a.jsonl",
        json.dumps(BRIEF) + "\n" + json.dumps({"assets": 11_700, "borrowed": 9_000}) + "\n",
    )
    code, out, _ = run(capsys, "explain", LADDERS, "-i", path, "--value", "health", "--record", "1", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["record"] == f"{path}:2"
    assert data["levels"][0]["level"] == "amber"
    code, _, err = run(capsys, "explain", LADDERS, "-i", path, "--record", "5")
    assert code == 2
    assert "--record 5: the input has 2 account(s)" in err


def test_explain_with_param_and_profile(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "a.json", json.dumps(BRIEF))
    _, out, _ = run(capsys, "explain", LADDERS, "-i", path, "--value", "risk_level", "--param", "liquidation_line=60%")
    assert "risk_level: level warning (actions: notify, restrict_new_orders)" in out
    _, out, _ = run(capsys, "explain", LADDERS, "-i", path, "--value", "buffer", "--profile", "vip1")
    assert "buffer = 600 USDT" in out


def test_explain_unknown_value(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "a.json", json.dumps(BRIEF))
    code, _, err = run(capsys, "explain", LADDERS, "-i", path, "--value", "risk_rat")
    assert code == 2
    assert "did you mean `risk_rate`" in err


# ----------------------------------------------------------------- test


def test_test_passes(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "test", str(CORPUS), TIERED)
    assert code == 0
    last = out.strip().splitlines()[-1]
    passed = int(last.split()[0])
    assert last == f"{passed} passed, 0 failed"
    assert passed >= 50


def test_test_reports_failures(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "failing.rules", FAILING_EXAMPLE)
    code, out, _ = run(capsys, "test", path, "-v")
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    assert f"PASS {path}:9:1 right" in lines
    assert f"FAIL {path}:13:1 wrong" in lines
    assert "  twice: expected 5 USDT, got 4 USDT; difference -1 USDT" in lines


def test_test_with_a_broken_ruleset(capsys: Capsys, tmp_path: pathlib.Path) -> None:
    bad = write(tmp_path, "bad.rules", BAD_RULES)
    code, out, err = run(capsys, "test", bad, TIERED)
    assert code == 1
    assert out.strip().splitlines()[-1].endswith("passed, 0 failed, 1 ruleset(s) with errors")
    assert "error[RL0201]" in err


# ----------------------------------------------------------------- dump


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("tokens", "3:1\tRULESET\tToken('RULESET', 'ruleset')"),
        ("ast", "Import(path='shared/eth_brackets.rules', name=None)"),
        ("ir", "    tier 3: 100000 .. inf: mmr=0.01; cum[mmr]=365"),
        ("python", "def evaluate(_scalars, _collections, _params):"),
    ],
)
def test_dump_every_stage(capsys: Capsys, stage: str, expected: str) -> None:
    code, out, _ = run(capsys, "dump", str(CORPUS / "imports.rules"), "--stage", stage)
    assert code == 0
    assert expected in out.splitlines()


def test_dump_defaults_to_ir(capsys: Capsys) -> None:
    _, out, _ = run(capsys, "dump", str(CORPUS / "imports.rules"))
    assert "let mm: USDT = bracket(eth_brackets.mmr, notional)" in out


# ----------------------------------------------------------------- python -m rulelang


def test_python_dash_m(tmp_path: pathlib.Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rulelang", "eval", TIERED, "-i", "-", "--format", "jsonl"],
        input='{"position_btc": 120, "notional": 5000000}\n{"position_btc": "-1", "notional": 0}\n',
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2
    lines: list[dict[str, Any]] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0]["record"] == "<stdin>:1"
    assert lines[0]["initial_margin"] == "805000"
    assert lines[0]["maintenance_margin"] == "385000"
    assert lines[1]["error"] == [{"field": "position_btc", "message": "must be >= 0, got -1"}]
    assert "<stdin>:2: position_btc: must be >= 0, got -1" in proc.stderr


def test_an_output_in_a_missing_folder_is_a_usage_error(tmp_path: pathlib.Path, capsys: Capsys) -> None:
    book = tmp_path / "book.jsonl"
    book.write_text('{"position_btc": "1", "position_usdt": "1"}\n')
    missing = tmp_path / "nope" / "r.jsonl"
    assert main(["eval", TIERED, "-i", str(book), "-o", str(missing)]) == 2
    assert f"--output {missing}: the folder {missing.parent} does not exist" in capsys.readouterr().err
    assert main(["eval", TIERED, "-i", str(book), "-o", str(tmp_path / "r.jsonl"), "--rejects", str(missing)]) == 2
    assert f"--rejects {missing}: the folder {missing.parent} does not exist" in capsys.readouterr().err
    assert not missing.parent.exists() and not (tmp_path / "r.jsonl").exists()


def test_a_book_without_extension_with_long_lines_is_read_as_json_lines(tmp_path: pathlib.Path, capsys: Capsys) -> None:
    # one account per line, each line longer than 4 KiB (a long unused key): JSON Lines, not one JSON document
    pad = "x" * 5000
    book = tmp_path / "book"
    book.write_text(
        f'{{"position_btc": "1", "position_usdt": "1", "note": "{pad}"}}\n'
        f'{{"position_btc": "2", "position_usdt": "1", "note": "{pad}"}}\n'
    )
    out = tmp_path / "r.jsonl"
    assert main(["eval", TIERED, "-i", str(book), "-o", str(out), "-q", "--backend", "columnar"]) == 0
    assert len(out.read_text().splitlines()) == 2
