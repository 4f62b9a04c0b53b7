"""Versions and effective dates: a folder of versions, git history, `--as-of`, `PATH@DATE`, `PATH@REV`."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from rulelang import versions
from rulelang.cli import main
from rulelang.errors import RulesetError
from tests.helpers import git

ROOT = Path(__file__).resolve().parent.parent
MM = ROOT / "rulesets" / "binance" / "maintenance_margin"

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def ruleset(name: str, effective: str | None, rate: str, version: str = "1", imports: str = "") -> str:
    """A one-definition ruleset: margin = notional × rate, with the rate in a table (imported or not)."""
    head = f"ruleset {name}\n    version {json.dumps(version)}\n"
    if effective:
        head += f"    effective {effective}\n"
    body = "\nunits USDT\n\ninput notional: USDT >= 0\n\n"
    body += f'import rates "{imports}"\n\n' if imports else TABLE.format(rate=rate) + "\n"
    return head + body + "let margin: USDT = step(rates.mmr, notional)\n"


TABLE = (
    "table rates: USDT\n    bands from <= notional < to\n"
    "    | from | to | mmr |\n    |---|---|---|\n    | 0 | 1_000_000 | {rate} |\n"
)


def table(rate: str) -> str:
    """A table file to import: its units, then the table."""
    return "units USDT\n\n" + TABLE.format(rate=rate)


def margin(v: versions.Version, notional: str = "10000") -> Decimal:
    return v.load().evaluate({"notional": notional}).values["margin"]


# ----------------------------------------------------------------- a folder of versions


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "mm"
    d.mkdir()
    (d / "a.rules").write_text(ruleset("mm", "2024-01-01", "1%", "2024.01"))
    (d / "b.rules").write_text(ruleset("mm", "2024-06-01", "2%", "2024.06"))
    (d / "c.rules").write_text(ruleset("mm", "2025-01-01", "3%", "2025.01"))
    return d


def test_the_version_in_force_is_the_latest_effective_on_or_before_the_day(folder: Path) -> None:
    hist = versions.history(str(folder))
    assert hist.name == "mm"
    assert [v.version for v in hist.versions] == ["2024.01", "2024.06", "2025.01"]
    assert hist.in_force(dt.date(2024, 1, 1)).version == "2024.01"  # its first day
    assert hist.in_force(dt.date(2024, 5, 31)).version == "2024.01"  # the day before the next
    assert hist.in_force(dt.date(2024, 6, 1)).version == "2024.06"
    assert hist.in_force(dt.date(2030, 1, 1)).version == "2025.01"
    # 10,000 × 2 % = 200
    assert margin(hist.in_force(dt.date(2024, 7, 1))) == Decimal("200")


def test_before_the_first_version_nothing_is_in_force(folder: Path) -> None:
    with pytest.raises(
        versions.VersionError, match=r"no version of mm is in force on 2023-12-31 .*first takes effect on 2024-01-01"
    ):
        versions.history(str(folder)).in_force(dt.date(2023, 12, 31))


def test_a_file_finds_the_versions_beside_it(folder: Path) -> None:
    v = versions.resolve(str(folder / "c.rules"), dt.date(2024, 3, 1))
    assert v.path == str(folder / "a.rules")
    # without a date, a file is itself
    assert versions.resolve(str(folder / "a.rules")).version == "2024.01"


def test_a_folder_without_a_date_means_today(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "today", lambda: dt.date(2024, 12, 31))
    assert versions.resolve(str(folder)).version == "2024.06"


def test_a_reference_with_a_date(folder: Path) -> None:
    assert versions.resolve(f"{folder}@2024-06-01").version == "2024.06"
    assert versions.resolve(f"{folder / 'a.rules'}@2025-02-01").version == "2025.01"
    with pytest.raises(versions.VersionError, match="not a calendar date"):
        versions.resolve(f"{folder}@2024-02-30")
    with pytest.raises(versions.VersionError, match="give one"):
        versions.resolve(f"{folder}@2024-06-01", dt.date(2024, 1, 1))


def test_two_versions_on_one_day_are_an_error(folder: Path) -> None:
    (folder / "d.rules").write_text(ruleset("mm", "2024-06-01", "4%"))
    with pytest.raises(versions.VersionError, match=r"b\.rules and .*d\.rules both take effect on 2024-06-01"):
        versions.history(str(folder))


def test_a_version_without_a_date_is_an_error(folder: Path) -> None:
    (folder / "d.rules").write_text(ruleset("mm", None, "4%"))
    with pytest.raises(versions.VersionError, match=r"d\.rules: .*needs `effective YYYY-MM-DD`"):
        versions.history(str(folder))


def test_a_folder_of_different_rulesets_is_not_a_history(folder: Path) -> None:
    (folder / "other.rules").write_text(ruleset("other", "2024-01-01", "4%"))
    with pytest.raises(versions.VersionError, match=r"several rulesets \(mm, other\)"):
        versions.history(str(folder))
    # a file in it still finds its own versions
    assert len(versions.history(str(folder / "a.rules")).versions) == 3


def test_imported_tables_are_not_versions(tmp_path: Path) -> None:
    (tmp_path / "t.rules").write_text(table("1%"))
    (tmp_path / "r.rules").write_text(ruleset("r", "2024-01-01", "", imports="t.rules"))
    hist = versions.history(str(tmp_path), "folder")
    assert [v.path for v in hist.versions] == [str(tmp_path / "r.rules")]


def test_an_effective_date_must_be_a_calendar_date(tmp_path: Path) -> None:
    path = tmp_path / "x.rules"
    path.write_text(ruleset("x", "2023-02-29", "1%"))
    with pytest.raises(RulesetError) as err:
        from rulelang import api

        api.load(str(path), cache=False)
    (diag,) = err.value.diagnostics
    assert diag.code == "RL0210"
    assert diag.span is not None and (diag.span.line, diag.span.column) == (3, 15)


# ----------------------------------------------------------------- git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three commits: 1 % from 2024-01-01; a table fix (1.5 %) under the same date; 2 % from 2024-06-01."""
    r = tmp_path / "repo"
    (r / "rules" / "tables").mkdir(parents=True)
    git(r, "init", "-q", "-b", "main")
    (r / "rules" / "tables" / "rates.rules").write_text(table("1%"))
    (r / "rules" / "mm.rules").write_text(ruleset("mm", "2024-01-01", "", "v1", imports="tables/*.rules"))
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "v1")
    (r / "rules" / "tables" / "rates.rules").write_text(table("1.5%"))
    git(r, "commit", "-q", "-am", "a corrected table, same effective date")
    (r / "rules" / "mm.rules").write_text(ruleset("mm", "2024-06-01", "", "v2", imports="tables/*.rules"))
    (r / "rules" / "tables" / "rates.rules").write_text(table("2%"))
    git(r, "commit", "-q", "-am", "v2")
    return r


@needs_git
def test_git_history_has_every_commit_of_the_file_and_its_imports(repo: Path) -> None:
    hist = versions.history(str(repo / "rules" / "mm.rules"))
    assert hist.where.startswith("git history")
    assert [v.version for v in hist.versions] == ["v1", "v1", "v2"]
    assert all(v.commit for v in hist.versions)
    # of the two commits effective 2024-01-01, the newer (the corrected table) is in force: 10,000 × 1.5 % = 150
    march = hist.in_force(dt.date(2024, 3, 1))
    assert margin(march) == Decimal("150")
    assert march.commit == git(repo, "rev-parse", "HEAD~1").strip()
    # 10,000 × 2 % = 200
    assert margin(hist.in_force(dt.date(2024, 6, 1))) == Decimal("200")


@needs_git
def test_a_revision_is_read_from_git_imports_included(repo: Path) -> None:
    path = repo / "rules" / "mm.rules"
    short = git(repo, "rev-parse", "--short", "HEAD~2").strip()
    v = versions.resolve(f"{path}@HEAD~2")
    assert v.path == f"{short}:rules/mm.rules"
    # the table of that commit, not the working tree's: 10,000 × 1 % = 100
    assert margin(v) == Decimal("100")
    assert margin(versions.resolve(f"{path}@main")) == Decimal("200")
    # the working tree is untouched
    assert "2%" in (repo / "rules" / "tables" / "rates.rules").read_text()


@needs_git
def test_messages_about_a_revision_name_files_as_git_does(repo: Path) -> None:
    (repo / "rules" / "mm.rules").write_text(
        ruleset("mm", "2024-09-01", "", "v3", imports="tables/*.rules") + "let x: USDT = nope\n"
    )
    git(repo, "commit", "-q", "-am", "broken")
    short = git(repo, "rev-parse", "--short", "HEAD").strip()
    with pytest.raises(RulesetError) as err:
        versions.resolve(f"{repo / 'rules' / 'mm.rules'}@HEAD").load()
    assert (
        err.value.diagnostics[0]
        .render()
        .startswith(f"{short}:rules/mm.rules:12:15: error[RL0201]: undefined name `nope`")
    )


@needs_git
def test_an_uncommitted_change_is_the_newest_version(repo: Path) -> None:
    (repo / "rules" / "tables" / "rates.rules").write_text(table("2.5%"))
    hist = versions.history(str(repo / "rules" / "mm.rules"))
    assert len(hist.versions) == 4 and hist.versions[-1].commit is None
    # 10,000 × 2.5 % = 250
    assert margin(hist.in_force(dt.date(2024, 7, 1))) == Decimal("250")


@needs_git
def test_unknown_revisions_and_paths_outside_git(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(versions.VersionError, match="'nope' is not a git revision"):
        versions.resolve(f"{repo / 'rules' / 'mm.rules'}@nope")
    with pytest.raises(versions.VersionError, match="is not in revision HEAD~2"):
        (repo / "rules" / "new.rules").write_text(ruleset("n", "2024-01-01", "1%"))
        versions.resolve(f"{repo / 'rules' / 'new.rules'}@HEAD~2")
    outside = tmp_path / "outside.rules"
    outside.write_text(ruleset("o", "2024-01-01", "1%"))
    with pytest.raises(versions.VersionError, match="not in a git repository"):
        versions.resolve(f"{outside}@HEAD")


@needs_git
def test_a_glob_at_a_revision_sees_that_revision_s_files(repo: Path) -> None:
    (repo / "rules" / "tables" / "more.rules").write_text(table("9%").replace("rates", "more"))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "another table")
    old = versions.resolve(f"{repo / 'rules' / 'mm.rules'}@HEAD~1").load()
    new = versions.resolve(f"{repo / 'rules' / 'mm.rules'}@HEAD").load()
    assert len(old.ir.files) == 2 and len(new.ir.files) == 3


# ----------------------------------------------------------------- the command line, on the shipped history


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_as_of_uses_the_version_in_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    account = tmp_path / "a.json"
    account.write_text('{"symbol": "BTCUSDT", "notional": "264000"}')
    # 2022 brackets: 264,000 × 1 % − 1,300 = 1,340 (Binance's FAQ figure)
    code, out, err = run(capsys, "eval", str(MM), "-i", str(account), "--as-of", "2023-06-01")
    assert code == 0 and json.loads(out)["maintenance_margin"] == "1340"
    assert "2022-02.rules (binance_maintenance_margin 2022.02, effective 2022-02-05)" in err
    # 2024 brackets: 264,000 × 0.5 % − 50 = 1,270
    code, out, _ = run(capsys, "eval", f"{MM}@2024-10-24", "-i", str(account))
    assert code == 0 and json.loads(out)["maintenance_margin"] == "1270"
    code, _, err = run(capsys, "eval", str(MM), "-i", str(account), "--as-of", "2022-02-04")
    assert code == 2 and "no version of binance_maintenance_margin is in force on 2022-02-04" in err
    code, _, err = run(capsys, "eval", str(MM), "-i", str(account), "--as-of", "5 June")
    assert code == 2 and "--as-of '5 June': expected a date written YYYY-MM-DD" in err


def test_diff_between_two_dates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", f"{MM}@2023-01-01", f"{MM}@2025-01-01", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["old"].endswith("2022-02.rules (binance_maintenance_margin 2022.02, effective 2022-02-05)")
    texts = [c["text"] for c in report["changes"]]
    assert "effective 2022-02-05 → 2024-10-24" in texts
    # BTCUSDT's 2024 bracket 3 is new: 600,000 .. 3,000,000 at 0.65 %, cum 50 + 600,000 × 0.15 % = 950
    assert any("BTCUSDT new tier 3 600,000 .. 3,000,000: mmr 0.65%" in t and "cum 950" in t for t in texts)


def test_versions_lists_the_history(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "versions", str(MM), "--as-of", "2023-01-01", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert listed["ruleset"] == "binance_maintenance_margin"
    assert [(v["effective"], v["version"], v["in_force"]) for v in listed["versions"]] == [
        ("2022-02-05", "2022.02", True),
        ("2024-10-24", "2024.10", False),
    ]
    code, out, _ = run(capsys, "versions", str(MM), "--as-of", "2025-01-01")
    assert code == 0 and "* in force on 2025-01-01" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith("*  ")] == ["*"]
    assert "*  2024-10-24  2024.10" in out


def test_the_rulebook_links_the_versions_of_a_ruleset() -> None:
    from rulelang import docs

    site = docs.build([str(MM)], "md", "en")
    a, b = "binance_maintenance_margin-2022-02-05.md", "binance_maintenance_margin-2024-10-24.md"
    assert {a, b} <= set(site.files)
    old, new = site.files[a].decode(), site.files[b].decode()
    assert (
        "Versions of this ruleset: **2022.02** (effective 2022-02-05) · "
        "[2024.10](binance_maintenance_margin-2024-10-24.md) (effective 2024-10-24)" in old
    )
    assert "[2022.02](binance_maintenance_margin-2022-02-05.md) (effective 2022-02-05) · **2024.10**" in new
    zh = docs.build([str(MM)], "html", "zh").files["binance_maintenance_margin-2024-10-24.html"].decode()
    assert "本规则集的各版本：" in zh and 'href="binance_maintenance_margin-2022-02-05.html"' in zh


def test_check_reports_a_broken_history(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(folder)]) == 0
    capsys.readouterr()
    (folder / "d.rules").write_text(ruleset("mm", "2024-06-01", "4%"))
    (folder / "e.rules").write_text(ruleset("mm", None, "5%"))
    assert main(["check", str(folder), "--format", "json"]) == 1
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["code"], Path(d["file"]).name, d["line"], d["column"]) for d in found] == [
        # d.rules line 3 `    effective 2024-06-01`: the date at column 15
        ("RL0212", "d.rules", 3, 15),
        # e.rules has no effective line: at the ruleset's name
        ("RL0211", "e.rules", 1, 9),
    ]
    assert (
        found[0]["message"]
        == "b.rules is also `mm` effective 2024-06-01: two versions cannot take effect on the same day"
    )


def test_a_version_without_a_date_is_in_force_from_the_beginning(tmp_path: Path) -> None:
    (tmp_path / "only.rules").write_text(ruleset("only", None, "1%"))
    # a folder holding one undated ruleset: that one, on any day
    assert versions.resolve(str(tmp_path)).name == "only"
    assert versions.resolve(str(tmp_path), dt.date(1990, 1, 1)).path == str(tmp_path / "only.rules")


@needs_git
def test_commits_before_the_first_effective_line_count_from_the_beginning(tmp_path: Path) -> None:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    (r / "mm.rules").write_text(ruleset("mm", None, "1%", "v0"))
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "no date yet")
    (r / "mm.rules").write_text(ruleset("mm", "2024-06-01", "2%", "v1"))
    git(r, "commit", "-q", "-am", "dated")
    hist = versions.history(str(r / "mm.rules"))
    assert hist.in_force(dt.date(2020, 1, 1)).version == "v0"
    assert hist.in_force(dt.date(2024, 6, 1)).version == "v1"
