"""`rulelang docs`: rulebooks read as a reader would, in both languages and both formats.

The pages are checked for what they say (every tier row, every example figure,
the formulas, the prose of the worked examples), for being self-contained,
linked and accessible, for being byte-for-byte reproducible, and the committed
rulebooks in docs/rulebooks/ for being up to date. The browser test renders a
page in headless Chromium.
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Keyword, Name, Number

import rulelang
from rulelang import cli, docs
from rulelang.docs.catalog import extract, untranslated
from rulelang.docs.i18n import Locale
from rulelang.highlight import RulelangLexer
from rulelang.testing import run_examples

ROOT = pathlib.Path(__file__).resolve().parent.parent
RULEBOOKS = ROOT / "docs" / "rulebooks"
TIERED = "rulesets/okx/tiered_margin.rules"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # pages show paths relative to the current folder, as `make docs` (run at the root) does
    monkeypatch.chdir(ROOT)


def shipped() -> list[str]:
    return [os.path.relpath(p, ROOT) for p in docs.ruleset_files([str(ROOT / "rulesets")])]


def page(path: str, fmt: str = "html", lang: str = "en") -> str:
    site = docs.build([path], fmt, lang)
    name = rulelang.load(path).ir.header.name
    return site.files[f"{name}.{'html' if fmt == 'html' else 'md'}"].decode("utf-8")


def text_of(markup: str) -> str:
    """What a reader sees: tags dropped, entities decoded, blanks collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", markup)))


# ----------------------------------------------------------------- content


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_tier_row_with_its_maintenance_amount_is_a_table_row(lang: str) -> None:
    loc = Locale(lang)
    for path in shipped():
        rs = rulelang.load(path).ir
        out = page(path, "html", lang)
        for table in rs.tables:
            for _key, tiers in table.tiers:
                for t in tiers:
                    upper = "∞" if t.upper is None else loc.number(t.upper)
                    row = (
                        f'<tr><th scope="row">{t.number}</th><td class="num">{loc.number(t.lower)}</td>'
                        f'<td class="num">{upper}</td>'
                    )
                    assert row in out, f"{path}: table {table.name} band {t.number}"
                    if "mmr" in dict(t.cum):
                        assert f'<td class="num">{loc.number(t.cum_of("mmr"))}</td>' in out


def test_tier_table_shows_cum_max_leverage_and_effective_rates_at_band_edges() -> None:
    md = page(TIERED, "md")
    assert (
        "| Band | From (BTC) | To (BTC) | mmr | Maintenance amount (cum) (BTC) | Effective mmr at from | Effective mmr at to |"
        in md
    )
    assert "| 1 | 0 | 50 | 0.5% | 0 | 0.5% | 0.5% |" in md
    # 100 × 1 % − 0.25 = 0.75 on 100: 0.75 %; the open band tends to its own rate
    assert "| 2 | 50 | 100 | 1% | 0.25 | 0.5% | 0.75% |" in md
    assert "| 3 | 100 | ∞ | 1.5% | 0.75 | 0.75% | → 1.5% |" in md
    # no leverage column: derived from imr (1 ÷ 12 % = 8.333…, shown rounded down and marked)
    assert "| 2 | 500,000 | 2,000,000 | 12% | 5% | 35,000 | 15,000 | ≈ 8.33x |" in md
    usdm = page("rulesets/binance/usdm.rules", "md")
    assert "| 3 | 600,000 | 3,000,000 | 0.65% | 75x | 950 | ≈ 0.4917% | ≈ 0.6183% |" in usdm
    assert "The table's own cum column equals the maintenance amount the engine derives" in usdm


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_example_figure_is_shown_as_the_engine_computes_it(lang: str) -> None:
    loc = Locale(lang)
    for path in shipped():
        rs = rulelang.load(path)
        out = page(path, "html", lang)
        assert out.count('class="ok">✓') == len(rs.ir.examples) + sum(len(ex.expects) for ex in rs.ir.examples)
        ladders = {lad.name for lad in rs.ir.ladders}
        for outcome, ex in zip(run_examples(rs), rs.ir.examples, strict=True):
            assert outcome.passed
            result = rs.evaluate(ex.inputs, profile=ex.profile)
            for x in ex.expects:
                if x.target.name in ladders:
                    continue
                qual = x.target.name if x.target.index is None else f"{x.target.name}.{x.target.field}"
                d = rs.ir.definition(qual)
                assert d is not None
                shown = html.escape(loc.value(result.get(str(x.target)), d.type), quote=False)
                assert f'<td class="num">{shown}</td>' in out, f"{path}: {ex.title}: {x.target}"


def test_worked_example_is_told_step_by_step_in_english() -> None:
    out = text_of(page(TIERED))
    assert (
        "120 BTC falls in 3 bands of BTC quantity tiers: 50 × 0.5% + 50 × 1% + 20 × 1.5% = 0.25 + 0.5 + 0.3 = 1.05 BTC"
        in out
    )
    assert (
        "1,800,000 USDT falls in 2 bands of Notional tiers: 500,000 × 5% + 1,300,000 × 12% = 25,000 + 156,000 = 181,000 USDT"
        in out
    )
    assert "120 BTC falls in band 3 (100 to ∞) of BTC quantity tiers: mmr = 1.5%" in out
    usdm = text_of(page("rulesets/binance/usdm.rules"))
    # a formula with its values written in, and a bracket lookup with its maintenance amount
    assert "= 10 × 60,000 = 600,000 USDT" in usdm
    assert "600,000 × 0.65% − 950 = 2,950 USDT" in usdm
    # the solve, as the explanation tells it
    assert "at 54,266.3316582914572864321608040201 USDT/base (solved exactly)" in usdm
    assert "Rounded to the nearest 0.01: 54,266.33 USDT/base." in usdm
    # a ladder with its thresholds
    assert "Margin call: margin ratio ≥ margin call line (80%) → no" in usdm


def test_worked_example_is_told_step_by_step_in_chinese() -> None:
    out = text_of(page(TIERED, "html", "zh"))
    assert (
        "120 BTC 分布在 BTC 数量档位 的 3 个档位： 50 × 0.5% + 50 × 1% + 20 × 1.5% = 0.25 + 0.5 + 0.3 = 1.05 BTC" in out
    )
    assert "逐步计算" in out and "计算示例" in out and "档位表" in out
    assert "所有预期数值都与引擎计算结果一致。" in out


def test_formulas_read_as_math_with_labels_linked_to_their_definitions() -> None:
    out = page("rulesets/okx/margin_ratio.rules")
    assert text_of(out).count("Margin ratio = if has a requirement then adjusted equity ÷ requirement else 0") == 1
    assert (
        '<dfn>Requirement</dfn> = <a href="#def-total_maintenance_margin">total maintenance margin</a> + '
        '<a href="#def-total_liquidation_fee">total liquidation fee</a>'
    ) in out
    tiered = page(TIERED)
    assert (
        '<dfn>Maintenance margin (BTC)</dfn> = <a href="#input-position_btc">position size</a> charged progressively '
        'at <code>mmr</code> of <a href="#table-btc_tiers">BTC quantity tiers</a>'
    ) in tiered
    zh = text_of(page("rulesets/okx/margin_ratio.rules", "html", "zh"))
    assert "保证金率 = 若 有保证金要求 则 有效保证金 ÷ 保证金要求，否则 0" in zh


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_every_link_to_the_page_has_its_anchor(fmt: str) -> None:
    for path in shipped():
        out = page(path, fmt)
        ids = set(re.findall(r'id="([^"]+)"', out))
        links = set(re.findall(r'href="#([^"]+)"', out) if fmt == "html" else re.findall(r"\]\(#([^)]+)\)", out))
        assert links and links <= ids, f"{path}: {sorted(links - ids)}"


def test_header_falls_back_to_english_and_the_build_lists_what_is_missing(tmp_path: pathlib.Path) -> None:
    rules = tmp_path / "half.rules"
    rules.write_text(
        'ruleset half\n    label "Half translated" zh "半翻译"\n    description "Only in English."\n'
        '    version "2.0.0"\n    effective 2025-03-01\n\nunits USDT\n\n'
        'input equity: USDT\n    label "Equity"\n\nlet double: USDT = equity * 2\n    label "Double" zh "两倍"\n',
        encoding="utf-8",
    )
    site = docs.build([str(rules)], "html", "zh")
    out = site.files["half.html"].decode()
    assert "<h1>半翻译</h1>" in out and "<p>Only in English.</p>" in out
    assert "版本 2.0.0" in out and "2025-03-01 生效" in out
    assert [str(m) for m in site.missing["half"]] == ["input equity: label", "ruleset: description"]
    index = site.files["index.html"].decode()
    assert "本语言缺少的文本" in index and "<code>input equity</code>: label" in index
    assert docs.build([str(rules)], "html", "en").missing["half"] == ()


def test_numbers_follow_the_locale_and_keep_every_digit() -> None:
    en, zh = Locale("en"), Locale("zh")
    assert en.number(Decimal("1535443.01")) == "1,535,443.01"
    assert en.percent(Decimal("0.005")) == "0.5%"
    third = Decimal("0.6666666666666666666666666666666667")
    assert en.number(third) == "0.6666666666666666666666666666666667"
    assert en.percent(third) == "66.66666666666666666666666666666667%"
    assert en.number(Decimal("12345678901234567890.123456789012345")) == "12,345,678,901,234,567,890.123456789012345"
    assert zh.compact(Decimal(20_000_000)) == "2000万" and en.compact(Decimal(20_000_000)) == "20M"
    assert (
        zh.value(True) == "是" and en.value(Decimal("0.2"), rulelang.load(TIERED).ir.tables[0].columns[0].type) == "20%"
    )


# ----------------------------------------------------------------- charts, ladders, haircuts


def test_tier_charts_mark_every_band_edge() -> None:
    out = page(TIERED)
    figure = out[out.index('<figure id="btc_tiers-mmr-margin">') :]
    svg = figure[: figure.index("</svg>")]
    # edges at 0, 50 and 100, and the end of the chart (the open band shown to 2 × 100)
    assert svg.count('<circle class="dot s1"') == 4
    assert svg.count('<line class="edge"') == 2
    assert '<title id="btc_tiers-mmr-margin-t">Margin against size: BTC quantity tiers</title>' in svg
    usdm = page("rulesets/binance/usdm.rules")
    wide = usdm[usdm.index('<figure id="brackets-BTCUSDT-mmr-rate">') :]
    assert "log scale" in wide[: wide.index("</figure>")]


def test_svg_files_of_markdown_pages_are_well_formed_and_linked(tmp_path: pathlib.Path) -> None:
    site = docs.build(["rulesets/okx/collateral.rules", "rulesets/binance/usdm.rules"], "md", "en")
    svgs = [name for name in site.files if name.endswith(".svg")]
    assert "binance_usdm/solve-positions-liquidation_price.svg" in svgs
    assert "binance_usdm/ladder-risk_level-bands.svg" in svgs
    assert "okx_collateral/discounts-USDT-haircut.svg" in svgs
    for name in svgs:
        root = ET.fromstring(site.files[name])
        assert root.get("role") == "img" and root.get("width") and root.get("height")
        assert root.find("{http://www.w3.org/2000/svg}title") is not None
        assert root.find("{http://www.w3.org/2000/svg}desc") is not None
    for md in ("binance_usdm.md", "okx_collateral.md"):
        text = site.files[md].decode()
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            assert target in site.files


def test_haircut_schedule_per_asset_with_counted_values() -> None:
    md = page("rulesets/okx/collateral.rules", "md")
    assert "## Haircut schedules" in md
    # USDT: 0–5M at 100 %, 5M–10M at 90 %: 5,000,000 + 4,500,000 = 9,500,000 counts at 10M
    assert "| 1 | 0 | 5,000,000 | 100% | 0% | 5,000,000 |" in md
    assert "| 2 | 5,000,000 | 10,000,000 | 90% | 10% | 9,500,000 |" in md
    assert "| 4 | 8,000,000 | ∞ | 0% | 100% | — |" in md  # BETH's last band counts nothing


def test_ladder_is_drawn_as_bands_from_red_to_green_with_thresholds() -> None:
    out = page("rulesets/binance/usdm.rules")
    svg = out[out.index('<figure id="ladder-risk_level-bands">') :]
    svg = svg[: svg.index("</svg>")]
    fills = re.findall(r'<rect x="0.5" y="[^"]+" width="639" height="[^"]+" rx="4" fill="(#[0-9a-f]+)"', svg)
    assert fills[0] == "#f9d4d2" and fills[-1] == "#cbe9d4" and len(fills) == 4
    assert "when margin ratio ≥ margin call line (80%)" in svg
    assert "actions: Notify the account holder" in svg


def test_solved_quantity_has_a_chart_of_its_condition() -> None:
    out = page("rulesets/binance/usdm.rules")
    assert '<figure id="solve-positions-liquidation_price">' in out
    chart = out[out.index('<figure id="solve-positions-liquidation_price">') :]
    chart = chart[: chart.index("</figure>")]
    assert "Liquidation price: 54,266.33" in chart
    assert "now: 60,000" in chart


# ----------------------------------------------------------------- HTML and Markdown as files


def test_html_is_self_contained_accessible_and_printable() -> None:
    for path in (TIERED, "rulesets/binance/usdm.rules"):
        for lang in ("en", "zh"):
            out = page(path, "html", lang)
            assert "<script" not in out and "<link" not in out and " src=" not in out
            assert re.findall(r"https?://[^\s\"'<]+", out) == ["http://www.w3.org/2000/svg"] * out.count("<svg")
            assert "Content-Security-Policy" in out and 'name="viewport"' in out and "@media print" in out
            assert f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">' in out
            assert out.count("<table>") == out.count("<caption>") and out.count("<svg") == out.count('role="img"')


def test_markdown_tables_have_one_cell_per_header() -> None:
    for path in shipped():
        lines = page(path, "md").splitlines()
        for k, line in enumerate(lines):
            if re.fullmatch(r"\|(-+:?\||-*-:\|)+", line):
                width = len(re.findall(r"(?<!\\)\|", lines[k - 1]))
                row = k + 1
                while row < len(lines) and lines[row].startswith("|"):
                    assert len(re.findall(r"(?<!\\)\|", lines[row])) == width, f"{path}:{row + 1}"
                    row += 1


def test_markdown_renders_as_commonmark_with_tables() -> None:
    """Rendered as GitHub does (CommonMark, tables, inline HTML anchors): every table, image and step list holds."""
    from markdown_it import MarkdownIt  # installed with rich

    renderer = MarkdownIt("commonmark", {"html": True}).enable("table")
    for path in (TIERED, "rulesets/binance/usdm.rules", "rulesets/okx/collateral.rules"):
        for lang in ("en", "zh"):
            source = page(path, "md", lang)
            out = renderer.render(source)
            assert out.count("<table>") == len(re.findall(r"^\|[-:|]+\|$", source, re.MULTILINE))
            assert out.count("<img ") == source.count("![")
            assert '<li><strong><a href="#def-' in out  # the steps of the worked examples are a list
            assert "\\" not in out  # no escape shows through


def test_output_is_byte_for_byte_the_same_each_time() -> None:
    for fmt in ("html", "md"):
        first = docs.build([TIERED, "rulesets/binance/usdm.rules"], fmt, "zh").files
        again = docs.build([TIERED, "rulesets/binance/usdm.rules"], fmt, "zh").files
        assert first == again


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_committed_rulebooks_are_up_to_date(lang: str) -> None:
    """`make docs` regenerates docs/rulebooks; this fails when the committed copy is stale."""
    site = docs.build(["rulesets"], "md", lang)
    folder = RULEBOOKS / lang
    committed = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    assert sorted(committed) == sorted(site.files), "run `make docs`"
    stale = [name for name, data in site.files.items() if committed[name] != data]
    assert stale == [], "run `make docs`"


def test_cli_docs_writes_pages_and_an_index_and_lists_missing_texts(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    assert cli.main(["docs", "rulesets/okx", "-o", str(out), "--lang", "zh"]) == 0
    err = capsys.readouterr().err
    assert "okx_tiered_margin: missing in zh: example 'an empty position needs no margin': title" in err
    names = sorted(p.name for p in out.iterdir())
    assert names[0] == "index.html" and "okx_swap.html" in names and "okx_tiered_margin.html" in names
    assert '<a href="okx_tiered_margin.html">OKX 阶梯保证金</a>' in (out / "index.html").read_text(encoding="utf-8")
    assert cli.main(["docs", TIERED, "-o", str(tmp_path / "md"), "--format", "md"]) == 0
    assert (tmp_path / "md" / "okx_tiered_margin" / "btc_tiers-mmr-margin.svg").is_file()


# ----------------------------------------------------------------- catalogue and highlighting


def test_every_message_of_the_docs_is_translated() -> None:
    assert len(extract()) > 100
    assert untranslated("zh") == []


def test_pygments_finds_the_lexer_through_its_plugin_entry_point() -> None:
    assert type(get_lexer_by_name("rules")) is RulelangLexer
    assert type(get_lexer_for_filename("okx.rules")) is RulelangLexer


def test_lexer_reads_every_shipped_rule_file_without_errors() -> None:
    for path in sorted(ROOT.glob("rulesets/**/*.rules")):
        tokens = list(RulelangLexer().get_tokens(path.read_text(encoding="utf-8")))
        assert [t for t in tokens if t[0] in Error] == [], path
    tokens = dict(
        (v, t)
        for t, v in RulelangLexer().get_tokens(
            "table t: BTC\nlet m: BTC = progressive(t.mmr, x)\n    | 0 | 50 | 0.5% |\n"
        )
    )
    assert tokens["table"] in Keyword.Declaration and tokens["progressive"] in Name.Builtin and tokens["0.5%"] in Number


def test_html_pages_highlight_rule_snippets() -> None:
    out = page(TIERED)
    assert '<div class="highlight"><pre>' in out and '<span class="kd">let</span>' in out


# ----------------------------------------------------------------- in a browser

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = pathlib.Path(os.environ.get("RULELANG_SCREENSHOTS", ROOT / "build" / "browser"))
PROBE = """<script>
window.__errors = [];
addEventListener('error', function (e) {
  __errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || 'a resource'));
}, true);
document.addEventListener('securitypolicyviolation', function (e) {
  __errors.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI);
});
addEventListener('load', function () {
  var svgs = Array.prototype.map.call(document.querySelectorAll('svg'), function (s) {
    var r = s.getBoundingClientRect();
    return [s.getAttribute('aria-labelledby'), r.width, r.height];
  });
  var pre = document.createElement('pre');
  pre.id = '__probe';
  pre.textContent = JSON.stringify({errors: __errors, svgs: svgs,
    scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth});
  document.body.appendChild(pre);
});
</script>"""


def _chromium(profile: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def _png_size(path: pathlib.Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (`make test-browser` installs it)")
@pytest.mark.parametrize(("path", "lang"), [("rulesets/binance/usdm.rules", "en"), (TIERED, "zh")])
def test_page_renders_in_chromium_without_errors(path: str, lang: str) -> None:
    html_page = page(path, "html", lang)
    work = pathlib.Path(tempfile.mkdtemp(prefix="rulelang-browser-"))
    try:
        plain = work / "page.html"
        plain.write_text(html_page, encoding="utf-8")
        # the probe measures the charts after layout; the page's own policy still forbids everything else
        probed = html_page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
        (work / "probe.html").write_text(probed.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
        run = _chromium(
            str(work / "profile"),
            "--window-size=390,844",
            "--virtual-time-budget=5000",
            "--dump-dom",
            (work / "probe.html").as_uri(),
        )
        found = re.search(r'<pre id="__probe">(.*?)</pre>', run.stdout, re.DOTALL)
        assert found, run.stderr[-2000:]
        probe = json.loads(html.unescape(found.group(1)))
        console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
        assert probe["errors"] == [] and console == []
        assert probe["svgs"], "no charts"
        for label, width, height in probe["svgs"]:
            assert width > 200 and height > 100, label  # drawn at a readable size, even on a phone
        assert probe["scrollWidth"] <= probe["innerWidth"]  # wide tables scroll inside their box, not the page
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = pathlib.Path(path).stem + f"-{lang}"
        for device, size in (("phone", "390,844"), ("desktop", "1280,1600")):
            shot = SCREENSHOTS / f"{name}-{device}.png"
            shot.unlink(missing_ok=True)
            _chromium(str(work / "profile"), f"--window-size={size}", f"--screenshot={shot}", plain.as_uri())
            assert shot.is_file() and _png_size(shot)[0] >= 390
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------- the tutorial


def _tutorial_blocks() -> tuple[str, list[str]]:
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    rules = re.findall(r"^```rules\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    shown = re.findall(r"^```text\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert len(rules) == 1
    return rules[0], shown


def test_tutorial_commands_print_what_the_tutorial_shows(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, shown = _tutorial_blocks()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desk.rules").write_text(rules, encoding="utf-8")
    (tmp_path / "account.json").write_text('{"notional": "800000", "equity": "30000"}\n', encoding="utf-8")
    for argv in (
        ["test", "desk.rules", "-v"],
        ["eval", "desk.rules", "--input", "account.json"],
        ["explain", "desk.rules", "--input", "account.json", "--value", "risk_level"],
    ):
        cli.main(argv)
        out = capsys.readouterr().out.rstrip("\n") + "\n"
        assert f"$ rulelang {' '.join(argv)}\n{out}" in shown
    assert cli.main(["docs", "desk.rules", "-o", "site", "--lang", "zh"]) == 0
    page_zh = text_of((tmp_path / "site" / "desk_margin.html").read_text(encoding="utf-8"))
    assert "示例 1：30 万 USDT 位于第二档" in page_zh
    assert cli.main(["docs", "desk.rules", "-o", "site"]) == 0
    page_en = text_of((tmp_path / "site" / "desk_margin.html").read_text(encoding="utf-8"))
    assert (
        "300,000 USDT falls in band 2 (100,000 to 500,000) of Notional brackets: rate 2%, maintenance amount 1,000; "
        "300,000 × 2% − 1,000 = 5,000 USDT"
    ) in page_en
    assert "Margin ratio = if has a requirement then equity ÷ maintenance margin else 0" in page_en
