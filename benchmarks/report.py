"""Write benchmark results: one JSON document, and a Markdown page rendered from it.

Input: the result document built by ``benchmarks.__main__`` (plain JSON data:
machine, configuration, agreement, account timings, load times, targets).
Output: ``latest.json`` and ``latest.md`` in the results directory
(``quick.json`` and ``quick.md`` for a ``--quick`` smoke run, so that it never
replaces the figures of a full run). The
Markdown is rendered from the JSON data alone, so an older JSON file can be
rendered again, or two compared, without re-running anything.
"""

from __future__ import annotations

import datetime
import decimal
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any


def machine() -> dict[str, Any]:
    """What the figures depend on: interpreter, platform, CPUs, decimal backend, versions, commit."""
    affinity: int | None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        affinity = os.cpu_count()
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "libmpdec": getattr(decimal, "__libmpdec_version__", "pure Python decimal"),
        # without bytecode caching, every cold start compiles rulelang's sources again
        "bytecode_cache": "off" if sys.dont_write_bytecode else "on",
        "lark": _version("lark"),
        "attrs": _version("attrs"),
        "git": _git(),
        # other work on the machine skews every figure; the spread column shows how much
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=False, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""

    changed = run("status", "--porcelain")
    return {
        "commit": run("rev-parse", "--short", "HEAD") or "unknown",
        "uncommitted_files": len(changed.splitlines()) if changed else 0,
    }


def write(results: dict[str, Any], directory: str, stem: str = "latest") -> tuple[str, str]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``directory``; return their paths."""
    os.makedirs(directory, exist_ok=True)
    json_path = os.path.join(directory, f"{stem}.json")
    md_path = os.path.join(directory, f"{stem}.md")
    with open(json_path, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2)
        fh.write("\n")
    with open(md_path, "w", encoding="utf-8") as fh:
        fh.write(markdown(results))
    return json_path, md_path


def _load(average: float | None) -> str:
    return "unknown" if average is None else f"{average:.2f}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _ms1(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def markdown(r: dict[str, Any]) -> str:
    """Render a result document as Markdown."""
    m, cfg = r["machine"], r["config"]
    git = m["git"]
    lines = [
        "# Benchmark results",
        "",
        f"`{cfg['command']}` at {m['when']}, commit {git['commit']}"
        + (f" with {git['uncommitted_files']} uncommitted files" if git["uncommitted_files"] else "")
        + ".",
        "",
        f"Machine: {m['implementation']} {m['python']} on {m['platform']}; {m['cpu_model']}; "
        f"{m['cpu_count']} CPUs ({m['cpus_usable']} usable); libmpdec {m['libmpdec']}; lark {m['lark']}; "
        f"bytecode cache {m['bytecode_cache']}; load average {_load(m['load_average_1min'])} at the start.",
        "",
        "## Targets",
        "",
        "| target | measured | limit | met |",
        "|---|---:|---:|---|",
    ]
    for t in r["targets"]:
        lines.append(f"| {t['name']} | {t['measured']} | {t['limit']} | {'yes' if t['met'] else '**no**'} |")
    acc = r.get("accounts")
    if acc:
        a = acc["agreement"]
        levels = ", ".join(f"{k} {v}" for k, v in a["levels"].items())
        lines += [
            "",
            "## Evaluating accounts",
            "",
            f"{a['accounts']:,} generated accounts (`{cfg['ruleset']}`, seed {cfg['seed']}), "
            f"{acc['mean_positions']:.1f} positions and {acc['mean_collateral']:.1f} collateral assets "
            f"on average, {a['figures_per_account']:.1f} figures each; levels: {levels}. "
            "Before timing, the compiled evaluator, the reference interpreter and the hand-written Decimal "
            "code agreed on every figure of every account, digit for digit, and the "
            f"{a['examples']} examples of the ruleset passed with both evaluators. The float version put "
            f"{a['float_level_mismatches']} accounts on a different level; its largest relative error "
            f"(equity, maintenance, margin ratio) was {a['float_max_relative_error']:.1e}.",
            "",
            f"Medians of {cfg['rounds']} interleaved rounds; a round times one pass over every account per "
            f"implementation (repeated for at least {cfg['min_time']} s), with the garbage collector paused. "
            "The ratio is the median over rounds of the implementation's time divided by the hand-written "
            "Decimal time of the same round; spread is (slowest − fastest) / median.",
            "",
            "| implementation | accounts/s | µs/account | × hand-written Decimal | spread |",
            "|---|---:|---:|---:|---:|",
        ]
        for role, heading in (("headline", None), ("breakdown", "*breakdown*")):
            if heading:
                lines.append(f"| {heading} | | | | |")
            for t in (t for t in acc["timings"] if t["role"] == role):
                name = t["name"] + (f" ({t['note']})" if t["note"] else "")
                lines.append(
                    f"| {name} | {t['items_per_second']:,.0f} | {t['microseconds_per_item']:,.1f} | "
                    f"{t['ratio_to_baseline']:.2f}× | {t['spread']:.0%} |"
                )
        if acc.get("compiled_split"):
            lines += [
                "",
                "Where one compiled `evaluate` call spends its time (differences of the medians above):",
                "",
                "| part | µs/account | share |",
                "|---|---:|---:|",
            ]
            total = sum(acc["compiled_split"].values())
            for part, us in acc["compiled_split"].items():
                lines.append(f"| {part} | {us:,.1f} | {us / total:.0%} |")
    load = r.get("load")
    if load:
        cold, warm = load["cold"], load["warm"]
        lines += [
            "",
            f"## Loading a {load['symbols']}-symbol × {load['tiers']}-tier ruleset",
            "",
            f"Generated text of {load['text_bytes'] / 1024:,.0f} KiB. Cold: a fresh process per load "
            f"(median of {load['cold_repeats']}), timed inside it from the first import; the whole process "
            f"took {_ms(load['cold_process_wall'])} including interpreter start-up. "
            f"Warm: later loads in one process (median of {load['warm_repeats']}), grammar already built. "
            "Loads are timed with the garbage collector running, so a warm load, in a process whose heap "
            "holds the benchmark's accounts, can take longer than a cold one.",
            "",
            "| phase | cold | warm |",
            "|---|---:|---:|",
            f"| import rulelang (and lark) | {_ms(cold['import'])} | — |",
            f"| build the LALR grammar | {_ms(cold['grammar'])} | — |",
            f"| parse only | — | {_ms(warm['parse'])} |",
            f"| parse + check | {_ms(cold['parse_check'])} | {_ms(warm['parse_check'])} |",
            f"| compile (IR → Python function) | {_ms(cold['compile'])} | {_ms(warm['compile'])} |",
            f"| **total** | **{_ms(cold['total'])}** | **{_ms(warm['total'])}** |",
        ]
        cached = load.get("cached")
        if cached:
            lines += [
                "",
                f"From the persistent cache (`rulelang.load`, `rulelang/cache.py`): a fresh process per load "
                f"(median of {load['cached_repeats']}), after a first process that checked the ruleset and "
                f"stored it ({_ms(cached['store'])}). The parser "
                + ("was" if load.get("cached_imports_lark") else "was not")
                + " imported.",
                "",
                "| phase | cached |",
                "|---|---:|",
                f"| import rulelang | {_ms1(cached['import'])} |",
                f"| `rulelang.load` (read the entry) | {_ms1(cached['load'])} |",
                f"| compiled function ready | {_ms1(cached['compile'])} |",
                f"| **total** (load + compiled, after the import) | **{_ms1(cached['total'])}** |",
            ]
    return "\n".join(lines) + "\n"
