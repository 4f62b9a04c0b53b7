"""The ``rulelang`` command: check | eval | explain | test | cases | fmt | dump | import | docs | diff | versions.

Exit codes: 0 ok, 1 a rule or test failure (errors in a rule file, a failed
example, a file fmt would change), 2 a usage or input error (bad arguments,
unreadable data, a bad account: the other accounts are still evaluated).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rulelang import api
from rulelang.errors import Diagnostic, EvaluationError, InputError, RulelangError, RulesetError

if TYPE_CHECKING:
    from rulelang import versions

OK, FAILURE, USAGE = 0, 1, 2


def rule_files(paths: Sequence[str]) -> Iterator[str]:
    """Expand folders to the ``*.rules`` files below them, sorted."""
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith(".rules"):
                        yield os.path.join(root, f)
        else:
            yield p


def _print_diagnostics(diags: Sequence[Diagnostic], as_json: bool) -> None:
    if as_json:
        for d in diags:
            print(json.dumps(d.to_json(), ensure_ascii=False))
    else:
        for d in diags:
            print(d.render() + "\n", file=sys.stderr)


def _imports(args: argparse.Namespace | None) -> dict[str, str]:
    return _pairs(getattr(args, "imports", None), "--import", "NAME=PATH")


def _load(path: str, args: argparse.Namespace | None = None) -> api.Ruleset:
    if not os.path.isfile(path):
        raise _Usage(f"{path}: no such file")
    return api.load(path, imports=_imports(args))


def _version(reference: str, args: argparse.Namespace) -> versions.Version:
    """The version a reference names (PATH, a folder of versions, PATH@DATE, PATH@REV; --as-of)."""
    from rulelang import versions

    try:
        day = versions.parse_date(args.as_of, "--as-of") if getattr(args, "as_of", None) else None
        return versions.resolve(reference, day, getattr(args, "history", "auto"), _imports(args))
    except versions.VersionError as err:
        raise _Usage(str(err)) from None


def _load_version(reference: str, args: argparse.Namespace) -> api.Ruleset:
    """Load the version a reference names; say which on stderr when a date, folder or revision chose it."""
    v = _version(reference, args)
    if v.path != reference or getattr(args, "as_of", None):
        print(f"rulelang: {reference}: using {v.describe()}", file=sys.stderr)
    return v.load(_imports(args))


class _Usage(Exception):
    pass


# ------------------------------------------------------------------ commands


def cmd_check(args: argparse.Namespace) -> int:
    status = OK
    files = list(rule_files(args.files))
    if not files:
        raise _Usage("no .rules files found in " + " ".join(args.files))
    n_err = n_warn = 0
    for path in files:
        try:
            rs = _load(path, args)
            diags: Sequence[Diagnostic] = rs.warnings
        except RulesetError as err:
            diags = err.diagnostics
            status = FAILURE
        _print_diagnostics(diags, args.format == "json")
        n_err += sum(d.is_error for d in diags)
        n_warn += sum(not d.is_error for d in diags)
    from rulelang import versions

    histories = versions.history_diagnostics(files)
    if histories:
        _print_diagnostics(histories, args.format == "json")
        n_err += len(histories)
        status = FAILURE
    if args.format != "json":
        print(f"checked {len(files)} file(s): {n_err} error(s), {n_warn} warning(s)", file=sys.stderr)
    return status


def _params(args: argparse.Namespace) -> dict[str, str]:
    return _pairs(args.param, "--param")


def _pairs(items: Sequence[str] | None, flag: str, form: str = "NAME=VALUE") -> dict[str, str]:
    from rulelang.inputs import parse_pairs

    try:
        return parse_pairs(items, flag, form)
    except ValueError as err:
        raise _Usage(str(err)) from None


def _diff_params(
    args: argparse.Namespace, old: api.Ruleset, new: api.Ruleset
) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    """Each version's parameter values for the impact run, and the lines that say how they were set."""
    both = _params(args)
    said: dict[str, str] = {}
    values: list[dict[str, Any]] = []
    for side, rs in (("old", old), ("new", new)):
        overrides = {**both, **_pairs(getattr(args, f"{side}_param"), f"--{side}-param")}
        profile = getattr(args, f"{side}_profile") or args.profile
        try:
            values.append(rs.params(overrides, profile))
        except InputError as err:
            raise _Usage(f"{side} version: " + "; ".join(m for _, m in err.problems)) from None
        parts = ([f"profile {profile}"] if profile else []) + [f"{k} = {v}" for k, v in overrides.items()]
        said[side] = ", ".join(parts)
    lines: tuple[str, ...]
    if said["old"] == said["new"]:
        lines = (f"both versions evaluated with {said['old']}",) if said["old"] else ()
    else:
        lines = tuple(f"{side} version evaluated with {said[side]}" for side in ("old", "new") if said[side])
    return values[0], values[1], lines


def _accounts(args: argparse.Namespace) -> Iterator[tuple[str, Any]]:
    from rulelang.datafiles import read_accounts

    if _is_parquet(args):
        from rulelang.columnar.stream import parquet_accounts

        return parquet_accounts(args.input)
    return read_accounts(args.input, args.input_format)


def _is_parquet(args: argparse.Namespace) -> bool:
    fmt = args.input_format
    return bool(fmt == "parquet" or (fmt is None and os.path.splitext(args.input)[1].lower() in (".parquet", ".pq")))


def cmd_eval(args: argparse.Namespace) -> int:
    from rulelang.batch import evaluate_record

    rs = _load_version(args.ruleset, args)
    params = rs.params(_params(args), args.profile)
    if args.output:
        return _eval_to_file(rs, params, args)
    if args.backend != "exact":
        raise _Usage("--backend columnar needs --output")
    status = OK
    rows: list[tuple[str, Any]] = []
    for name, data in _accounts(args):
        try:
            rows.append((name, evaluate_record(rs, name, data, params)))
        except (InputError, EvaluationError) as err:
            status = USAGE
            print(
                f"error: {err}" if isinstance(err, EvaluationError) else f"error: {err.render()}",
                file=sys.stderr,
            )
            rows.append((name, err))
    if args.format == "table":
        _print_table(rs, rows, args.input)
    else:
        out = []
        for name, r in rows:
            if isinstance(r, RulelangError):
                out.append({"record": name, "error": _error_json(r)})
            else:
                out.append({"record": name, **r.to_json()})
        if args.format == "jsonl":
            for item in out:
                print(json.dumps(item, ensure_ascii=False))
        else:
            print(json.dumps(out[0] if len(out) == 1 else out, indent=2, ensure_ascii=False))
    return status


def _eval_to_file(rs: api.Ruleset, params: dict[str, Any], args: argparse.Namespace) -> int:
    """Stream a book of accounts into --output, bad ones into the rejects file, with progress on a terminal."""
    from rulelang import batch
    from rulelang.datafiles import detect_format, read_head

    ext = os.path.splitext(args.output)[1].lower()
    fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}.get(ext)
    if fmt is None:
        raise _Usage(f"--output {args.output}: write .jsonl, .csv or .parquet (the format follows the extension)")
    for flag, path in (("--output", args.output), ("--rejects", args.rejects)):
        folder = os.path.dirname(path or "") or "."
        if path and not os.path.isdir(folder):
            raise _Usage(f"{flag} {path}: the folder {folder} does not exist")
    head = ""
    if _is_parquet(args):
        if not os.path.isfile(args.input):
            raise _Usage(f"{args.input}: no such file")
    elif args.input != "-":
        try:
            with open(args.input, encoding="utf-8") as fh:
                head = read_head(fh)  # as the readers do: two whole lines tell JSON Lines from JSON
        except OSError as err:
            raise _Usage(f"{args.input}: cannot open: {err.strerror}") from None
    in_fmt = "parquet" if _is_parquet(args) else args.input_format or detect_format(args.input, head)
    if args.backend == "columnar":
        from rulelang.columnar import stream

        def run(tick: Any = None) -> batch.Summary:
            return stream.run(rs, args.input, in_fmt, args.output, fmt, params, args.rejects, tick)

    else:

        def run(tick: Any = None) -> batch.Summary:
            advance = None if tick is None else lambda: tick(1)
            return batch.run(rs, _accounts(args), args.output, fmt, params, args.rejects, advance)

    if sys.stderr.isatty() and not args.quiet:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            Task,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Task) -> Text:
                return Text(f"{task.speed:,.0f} accounts/s" if task.speed else "")

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(), TimeRemainingColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("evaluating", total=batch.count_records(args.input, in_fmt))
            summary = run(lambda n: progress.advance(task, n))
    else:
        summary = run()
    print(summary.render(), file=sys.stderr)
    return USAGE if summary.rejected else OK


def _error_json(err: RulelangError) -> Any:
    if isinstance(err, InputError):
        return [{"field": p, "message": m} for p, m in err.problems]
    return str(err)


def _print_table(rs: api.Ruleset, rows: list[tuple[str, Any]], source: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from rulelang.display import show

    table = Table(title=f"{rs.ir.header.name}: {source}")
    # the file is in the title; each row names its line (JSON Lines, CSV) or array index
    table.add_column("record", no_wrap=True)
    defs = [d for d in rs.ir.definitions if d.collection is None]
    for d in defs:
        table.add_column(d.name, justify="right")
    for lad in rs.ir.ladders:
        table.add_column(lad.name)
    for full_name, r in rows:
        name = full_name[len(source) :].lstrip(":") if full_name.startswith(source) else full_name
        name = name or "1"
        if isinstance(r, RulelangError):
            table.add_row(name, "[red]error: " + str(r).splitlines()[0] + "[/red]")
            continue
        cells = [show(r.values[d.name], d.type, group=True) for d in defs]
        cells += [r.levels[lad.name].level for lad in rs.ir.ladders]
        table.add_row(name, *cells)
    Console(width=max(100, min(250, 16 * (len(defs) + 2)))).print(table)


def cmd_explain(args: argparse.Namespace) -> int:
    from rulelang.datafiles import DataFileError

    rs = _load_version(args.ruleset, args)
    accounts = list(_accounts(args))
    if args.record is not None:
        if not 0 <= args.record < len(accounts):
            raise _Usage(f"--record {args.record}: the input has {len(accounts)} account(s)")
        accounts = [accounts[args.record]]
    status = OK
    out = []
    for name, data in accounts:
        try:
            if isinstance(data, DataFileError):
                raise InputError([("(record)", str(data))], name)
            explanation = rs.explain(data, args.value, _params(args), args.profile)
        except (InputError, EvaluationError) as err:
            print(f"error: {err}", file=sys.stderr)
            status = USAGE
            continue
        if args.format == "json":
            out.append({"record": name, **explanation.to_json()})
        else:
            if len(accounts) > 1:
                print(f"== {name}")
            print(explanation.to_text())
    if args.format == "json":
        print(json.dumps(out[0] if len(out) == 1 else out, indent=2, ensure_ascii=False))
    return status


def cmd_test(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from rulelang.regress import coverage
    from rulelang.regress.junit import junit_xml
    from rulelang.regress.runner import Session, discover

    imports = _imports(args)
    if args.mutate or args.mutate_json:
        return _mutate(args, imports)
    try:
        fail_under = Decimal(args.fail_under.rstrip("% ")) if args.fail_under is not None else None
    except InvalidOperation:
        raise _Usage(f"--fail-under expects a percentage such as 90, got {args.fail_under!r}") from None
    want_coverage = bool(args.coverage or args.coverage_json or fail_under is not None)
    files = discover(args.paths or ["."])
    for _, path in files:
        if not os.path.isfile(path):
            raise _Usage(f"{path}: no such file")
    session = Session(imports, coverage=want_coverage)
    passed = failed = broken = unreadable = 0
    shown: set[str] = set()
    runs = []
    for kind, path in files:
        run = session.run_file(kind, path)
        runs.append(run)
        for where, problem in session.broken.items():  # a ruleset met first through a scenario file, too
            if where not in shown:
                shown.add(where)
                _print_diagnostics(problem.diagnostics, False)
                broken += 1
        if run.error is not None and run.diagnostics is None:
            print(f"rulelang: {run.error}", file=sys.stderr)
            unreadable += 1
        for outcome in run.outcomes:
            if outcome.passed:
                passed += 1
                if args.verbose:
                    print(f"PASS {outcome.location} {outcome.title}")
            else:
                failed += 1
                print(f"FAIL {outcome.location} {outcome.title}")
                # how the first differing value was computed; the others usually follow from it
                for k, f in enumerate(outcome.failures):
                    text = f.render(trace=k == 0 or args.verbose)
                    print("\n".join("  " + line if line else "" for line in text.splitlines()))
                if len(outcome.failures) > 1 and not args.verbose and any(f.trace for f in outcome.failures[1:]):
                    print("  (-v explains every differing value)")
    status = FAILURE if failed or broken or unreadable else OK
    if want_coverage:
        reports = session.reports()
        if args.coverage or fail_under is not None:
            print(coverage.render_table(reports))
        if args.coverage_json:
            with open(args.coverage_json, "w", encoding="utf-8") as fh:
                json.dump(coverage.to_json(reports), fh, indent=2, ensure_ascii=False)
                fh.write("\n")
        if fail_under is not None and coverage.below(reports, fail_under):
            total = coverage.to_json(reports)["percent"]
            print(f"coverage {total}% is below --fail-under {args.fail_under}%")
            status = FAILURE
    if args.junit_xml:
        with open(args.junit_xml, "w", encoding="utf-8") as fh:
            fh.write(junit_xml(runs))
    extra = f", {broken} ruleset(s) with errors" if broken else ""
    extra += f", {unreadable} scenario file(s) that cannot be read" if unreadable else ""
    print(f"{passed} passed, {failed} failed{extra}")
    return status


def _mutate(args: argparse.Namespace, imports: dict[str, str]) -> int:
    """``rulelang test --mutate``: exit 1 when a rate, edge or threshold mutant survived (docs/testing.md)."""
    from rulelang.regress import mutate

    for path in args.paths or ["."]:
        if not os.path.exists(path):
            raise _Usage(f"{path}: no such file")
    reports = mutate.run(args.paths or ["."], imports)
    print(mutate.render(reports, args.verbose))
    if args.mutate_json:
        with open(args.mutate_json, "w", encoding="utf-8") as fh:
            json.dump(mutate.to_json(reports), fh, indent=2, ensure_ascii=False)
            fh.write("\n")
    return FAILURE if any(r.failed for r in reports) else OK


def cmd_cases(args: argparse.Namespace) -> int:
    from decimal import Decimal

    from rulelang.datafiles import DataFileError, read_accounts
    from rulelang.regress import boundaries, cases
    from rulelang.regress.literals import CellError, read_number

    rs = _load(args.ruleset, args)
    ticks: dict[str, Decimal] = {}
    tick: Decimal | None = None
    level_tick: Decimal | None = None
    try:
        for item in args.tick or ():
            name, _, value = item.rpartition("=")
            if name:
                ticks[name.strip()] = read_number(value)
            else:
                tick = read_number(value)
        if args.level_tick is not None:
            level_tick = read_number(args.level_tick)
    except CellError as err:
        raise _Usage(f"--tick/--level-tick: {err}") from None
    unknown = sorted(set(ticks) - {t.name for t in rs.ir.tables})
    if unknown:
        raise _Usage(f"--tick: no table {', '.join(unknown)} in {args.ruleset}")
    if args.base is not None:
        first = next(iter(read_accounts(args.base)), None)
        if first is None or isinstance(first[1], DataFileError) or not isinstance(first[1], dict):
            raise _Usage(f"--base {args.base}: expected an account (a JSON object)")
        base = first[1]
    else:
        base = boundaries.base_account(rs.ir)
    generator = boundaries.Generator(rs, base, ticks, tick, level_tick)
    frozen, failed = cases.freeze(rs, generator.run())
    for why in generator.skipped + failed:
        print(f"skipped: {why}", file=sys.stderr)
    text = cases.write(args.output, args.ruleset, frozen)
    if args.output is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {len(frozen)} case(s) to {args.output}", file=sys.stderr)
    return OK


def cmd_fmt(args: argparse.Namespace) -> int:
    from rulelang.fmt import FormatError, format_text

    status = OK
    for path in rule_files(args.files):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            new = format_text(text, path)
        except FormatError as err:
            _print_diagnostics(err.diagnostics, False)
            status = FAILURE
            continue
        if new == text:
            continue
        if args.check:
            print(f"would reformat {path}")
            status = FAILURE
        else:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(new)
            print(f"reformatted {path}")
    return status


def cmd_dump(args: argparse.Namespace) -> int:
    import pprint

    from rulelang.source import Source
    from rulelang.syntax import parse_source
    from rulelang.syntax.parser import parser

    with open(args.ruleset, encoding="utf-8") as fh:
        text = fh.read()
    if args.stage == "tokens":
        for tok in parser().lex(text if text.endswith("\n") else text + "\n"):
            print(f"{tok.line}:{tok.column}\t{tok.type}\t{tok!r}")
    elif args.stage == "ast":
        file, diags = parse_source(Source(args.ruleset, text))
        _print_diagnostics(diags, False)
        for decl in file.decls:
            pprint.pprint(decl, width=110, sort_dicts=False)
    elif args.stage == "ir":
        rs = _load(args.ruleset, args)
        from rulelang.printer import print_ir

        print(print_ir(rs.ir))
    else:
        print(_load(args.ruleset, args).compiled.source)
    return OK


def cmd_import(args: argparse.Namespace) -> int:
    from rulelang import importers

    options = importers.Options(
        table=args.table,
        unit=args.unit,
        date=args.date,
        only=tuple(args.only or ()),
        upper_inclusive=None if args.bands is None else args.bands == "upper",
        units_line=args.units_line,
    )
    imported = importers.import_file(args.kind, args.file, options)
    for warning in imported.warnings:
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(imported.text())
    else:
        for path in importers.write(imported, args.output):
            print(f"wrote {path}", file=sys.stderr)
    return OK


def cmd_versions(args: argparse.Namespace) -> int:
    from rulelang import versions

    try:
        day = versions.parse_date(args.as_of, "--as-of") if args.as_of else versions.today()
        hist = versions.history(args.ruleset, args.history, _imports(args))
    except versions.VersionError as err:
        raise _Usage(str(err)) from None
    try:
        current: versions.Version | None = hist.in_force(day)
    except versions.VersionError:
        current = None
    if args.format == "json":
        rows = [
            {
                "ruleset": v.name,
                "version": v.version,
                "effective": v.effective.isoformat() if v.effective else None,
                "path": v.path,
                "commit": v.commit,
                "committed": v.committed,
                "in_force": v is current,
            }
            for v in hist.versions
        ]
        print(
            json.dumps(
                {"ruleset": hist.name, "where": hist.where, "as_of": day.isoformat(), "versions": rows}, indent=2
            )
        )
        return OK
    print(f"{hist.name}: {len(hist.versions)} version(s), from the {hist.where}")
    table = [("", "effective", "version", "committed" if any(v.commit for v in hist.versions) else "", "file")]
    for v in hist.versions:
        table.append(
            (
                "*" if v is current else "",
                v.effective.isoformat() if v.effective else "-",
                v.version or "-",
                (v.committed or "working tree")[:10] if table[0][3] else "",
                v.path,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True) if w).rstrip())
    if current is None:
        print(f"no version is in force on {day.isoformat()}")
    else:
        print(f"* in force on {day.isoformat()}")
    return OK


def cmd_docs(args: argparse.Namespace) -> int:
    from rulelang import docs

    imports: dict[str, str] = {}
    for item in args.imports or ():
        if "=" not in item:
            raise _Usage(f"--import expects NAME=PATH, got {item!r}")
        name, target = item.split("=", 1)
        imports[name.strip()] = target.strip()
    files = docs.ruleset_files(args.rulesets)
    if not files:
        raise _Usage("no rulesets found in " + " ".join(args.rulesets))
    site = docs.build(files, args.format, args.lang, imports or None)
    written = docs.write(site, args.output)
    for slug, missing in site.missing.items():
        for m in missing:
            print(f"{slug}: missing in {args.lang}: {m}", file=sys.stderr)
    print(f"wrote {len(written)} file(s) to {args.output}", file=sys.stderr)
    return OK


def cmd_diff(args: argparse.Namespace) -> int:
    from rulelang import diff
    from rulelang.datafiles import DataFileError

    old_version, new_version = _version(args.old, args), _version(args.new, args)
    old, new = old_version.load(_imports(args)), new_version.load(_imports(args))
    if args.fail_on is not None and args.accounts is None:
        raise _Usage("--fail-on needs --accounts: the gate is about accounts reaching a level")
    if args.top < 0:
        raise _Usage(f"--top expects a number >= 0, got {args.top}")
    impact = None
    settings: tuple[str, ...] = ()
    if args.accounts is None and (
        args.param or args.old_param or args.new_param or args.profile or args.old_profile or args.new_profile
    ):
        raise _Usage("--param and --profile need --accounts: they change how the book is evaluated")
    if args.accounts is not None:
        old_params, new_params, settings = _diff_params(args, old, new)
        try:
            impact = diff.measure_impact(
                old,
                new,
                diff.read_book(args.accounts, args.input_format),
                measure=args.measure,
                fail_on=args.fail_on,
                top=args.top,
                old_params=old_params,
                new_params=new_params,
            )
        except (diff.DiffUsageError, DataFileError) as err:
            raise _Usage(str(err)) from None
    report = diff.Report(
        old=old_version.describe() if old_version.path != args.old else args.old,
        new=new_version.describe() if new_version.path != args.new else args.new,
        changes=tuple(diff.diff_rulesets(old.ir, new.ir)),
        impact=impact,
        book=args.accounts,
        fail_on=args.fail_on,
        settings=settings,
    )
    text = diff.render(report, args.format)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return FAILURE if report.failed else OK


# ------------------------------------------------------------------ parser


def import_arg(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--import",
        dest="imports",
        action="append",
        metavar="NAME=PATH",
        help="point a named import elsewhere, e.g. brackets='data/brackets/*.rules'",
    )


def version_args(sp: argparse.ArgumentParser, as_of: bool = True) -> None:
    if as_of:
        sp.add_argument(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="use the version of the ruleset in force on this day (from its folder or its git history)",
        )
    sp.add_argument(
        "--history",
        choices=["auto", "folder", "git"],
        default="auto",
        help="where versions are found: the files beside it that declare the same ruleset, or git "
        "(default auto: the folder when it holds several versions, else git)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rulelang", description="Check, evaluate and explain exchange margin rules.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check", help="check rule files and report every problem")
    c.add_argument("files", nargs="+", metavar="FILE", help="rule files or folders")
    c.add_argument("--format", choices=["text", "json"], default="text")
    import_arg(c)
    c.set_defaults(func=cmd_check)

    def data_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("ruleset")
        import_arg(sp)
        sp.add_argument(
            "--input",
            "-i",
            required=True,
            help="accounts: JSON object or array, JSON Lines, CSV, Parquet, or - for stdin",
        )
        sp.add_argument(
            "--input-format", choices=["json", "jsonl", "csv", "parquet"], help="override detection by file extension"
        )
        sp.add_argument(
            "--param",
            "-p",
            action="append",
            metavar="NAME=VALUE",
            help="override a parameter, e.g. liquidation_line=60%%",
        )
        sp.add_argument("--profile", help="evaluate under a named profile of the ruleset")
        version_args(sp)

    e = sub.add_parser("eval", help="evaluate accounts")
    data_args(e)
    e.add_argument("--format", choices=["json", "jsonl", "table"], default="json")
    e.add_argument(
        "--output", "-o", help="stream the results to this file (.jsonl, .csv or .parquet), written atomically"
    )
    e.add_argument(
        "--backend",
        choices=["exact", "columnar"],
        default="exact",
        help="with --output: exact (account by account, every digit) or columnar (vectorised chunks, "
        "exact decisions, float64 amounts; needs the batch extra); see docs/performance.md",
    )
    e.add_argument("--rejects", help="with --output: where bad accounts go (default: OUTPUT.rejects.jsonl)")
    e.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_eval)

    x = sub.add_parser("explain", help="show how values were computed")
    data_args(x)
    x.add_argument("--value", help="a definition or level ladder (default: all)")
    x.add_argument("--record", type=int, help="only the account at this 0-based position in the input")
    x.add_argument("--format", choices=["text", "json"], default="text")
    x.set_defaults(func=cmd_explain)

    t = sub.add_parser("test", help="run the example blocks of rulesets and scenario files")
    t.add_argument(
        "paths", nargs="*", metavar="PATH", help="rule files, scenario files, folders (searched for *.rules, cases.*)"
    )
    t.add_argument("--verbose", "-v", action="store_true")
    t.add_argument("--coverage", action="store_true", help="report the tier rows, levels and branches exercised")
    t.add_argument("--coverage-json", metavar="FILE", help="write the coverage report as JSON")
    t.add_argument("--fail-under", metavar="PERCENT", help="fail when coverage is below PERCENT")
    t.add_argument("--junit-xml", metavar="FILE", help="write the results as JUnit XML")
    t.add_argument(
        "--mutate", action="store_true", help="change one rate, edge, threshold or comparison at a time; list survivors"
    )
    t.add_argument("--mutate-json", metavar="FILE", help="with --mutate: write the mutants' report as JSON")
    import_arg(t)
    t.set_defaults(func=cmd_test)

    cs = sub.add_parser("cases", help="write cases at every tier boundary and level threshold, outputs frozen")
    cs.add_argument("ruleset")
    cs.add_argument("--output", "-o", metavar="FILE", help=".csv, .json, .jsonl or .yaml (default: CSV on stdout)")
    cs.add_argument(
        "--tick",
        action="append",
        metavar="[TABLE=]TICK",
        help="the step of a table's size (default: the table's declared `tick`, else the smallest "
        "decimal place of its band edges)",
    )
    cs.add_argument(
        "--level-tick",
        metavar="TICK",
        help="the step around level thresholds, e.g. 0.01%% (default: the ladder's declared `tick`, "
        "else the threshold's last decimal place)",
    )
    cs.add_argument("--base", metavar="FILE", help="the account the cases vary (default: from the examples)")
    import_arg(cs)
    cs.set_defaults(func=cmd_cases)

    f = sub.add_parser("fmt", help="rewrite rule files in the canonical layout")
    f.add_argument("files", nargs="+", metavar="FILE")
    f.add_argument("--check", action="store_true", help="only report files that would change (exit 1)")
    f.set_defaults(func=cmd_fmt)

    d = sub.add_parser("dump", help="print one stage of the pipeline")
    d.add_argument("ruleset")
    d.add_argument("--stage", choices=["tokens", "ast", "ir", "python"], default="ir")
    import_arg(d)
    d.set_defaults(func=cmd_dump)

    im = sub.add_parser("import", help="turn exchange tier data (JSON) into a rule table")
    im.add_argument(
        "kind",
        choices=[
            "binance-brackets",
            "okx-position-tiers",
            "okx-discount-rate",
            "bybit-risk-limit",
            "ccxt-leverage-tiers",
        ],
        help="what the data is",
    )
    im.add_argument("file", metavar="FILE", help="the exchange's JSON response, or - for stdin")
    im.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="a folder (existing, or ending with /): one file per key; a file: every key in it (default: stdout)",
    )
    im.add_argument("--table", help="the table's name (default per kind, e.g. brackets)")
    im.add_argument("--unit", help="the unit of the band edges (default: from the data, e.g. USDT)")
    im.add_argument("--date", help="the date the data is as of, YYYY-MM-DD (default: from the data or file name)")
    im.add_argument("--only", action="append", metavar="KEY", help="import only this symbol or currency (repeatable)")
    im.add_argument(
        "--bands", choices=["lower", "upper"], help="ccxt-leverage-tiers: the inclusive end (default lower)"
    )
    im.add_argument(
        "--no-units",
        dest="units_line",
        action="store_false",
        help="leave out the `units` line (the importing ruleset declares the unit)",
    )
    im.set_defaults(func=cmd_import)

    dc = sub.add_parser("docs", help="render rulebooks: a page per ruleset (HTML or Markdown, English or Chinese)")
    dc.add_argument("rulesets", nargs="+", metavar="RULESET", help="rule files or folders (their rulesets)")
    dc.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to write the pages to")
    dc.add_argument("--format", choices=["html", "md"], default="html")
    dc.add_argument("--lang", choices=["en", "zh"], default="en")
    import_arg(dc)
    dc.set_defaults(func=cmd_docs)

    df = sub.add_parser("diff", help="what changed between two versions of a ruleset, and what it does to a book")
    df.add_argument("old", metavar="OLD", help="the ruleset as it was: PATH, PATH@YYYY-MM-DD or PATH@GIT-REVISION")
    df.add_argument("new", metavar="NEW", help="the ruleset as proposed: PATH, PATH@YYYY-MM-DD or PATH@GIT-REVISION")
    df.add_argument("--accounts", "-a", metavar="FILE", help="a book of accounts (JSON Lines, JSON, CSV, Parquet)")
    df.add_argument("--input-format", choices=["json", "jsonl", "csv", "parquet"], help="override detection")
    df.add_argument("--format", choices=["text", "md", "html", "json"], default="text")
    df.add_argument("--output", "-o", metavar="FILE", help="write the report here (default: stdout)")
    df.add_argument("--measure", metavar="NAME", help="the amount whose change is totalled (default: maintenance)")
    df.add_argument("--top", type=int, default=10, metavar="N", help="how many of the largest changes to list")
    df.add_argument(
        "--fail-on",
        metavar="[LADDER.]LEVEL",
        help="exit 1 when an account newly reaches this level or a more severe one (a CI gate)",
    )
    for side in ("", "old-", "new-"):
        whose = {"": "both versions", "old-": "the old version", "new-": "the new version"}[side]
        df.add_argument(
            f"--{side}param",
            action="append",
            metavar="NAME=VALUE",
            help=f"with --accounts: evaluate {whose} with this parameter value, e.g. warning_line=140%%",
        )
        df.add_argument(f"--{side}profile", metavar="NAME", help=f"with --accounts: evaluate {whose} under a profile")
    import_arg(df)
    version_args(df, as_of=False)
    df.set_defaults(func=cmd_diff)

    vs = sub.add_parser("versions", help="list a ruleset's versions and the one in force")
    vs.add_argument("ruleset", metavar="RULESET", help="a rule file or a folder of versions")
    vs.add_argument("--format", choices=["text", "json"], default="text")
    import_arg(vs)
    version_args(vs)
    vs.set_defaults(func=cmd_versions)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except RulesetError as err:
        _print_diagnostics(err.diagnostics, False)
        return FAILURE
    except _Usage as err:
        print(f"rulelang: {err}", file=sys.stderr)
        return USAGE
    except (InputError, EvaluationError) as err:
        print(f"rulelang: {err}", file=sys.stderr)
        return USAGE
    except RulelangError as err:
        print(f"rulelang: {err}", file=sys.stderr)
        return USAGE
    except BrokenPipeError:
        return OK
