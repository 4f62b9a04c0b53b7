"""rulelang.spark.evaluate in Spark local mode: the same results as the exact evaluator."""

from __future__ import annotations

import math
import os
import pathlib
import random
import shutil
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

pyspark = pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java", allow_module_level=True)

import rulelang  # noqa: E402 - after the skips
from benchmarks.accounts import account  # noqa: E402
from rulelang.spark import evaluate, input_schema  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = "rulesets/bench/account.rules"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    # the Python workers must be this interpreter (with rulelang installed), not the first `python3` on PATH
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("rulelang-test")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "64")  # several batches per partition
        .getOrCreate()
    )
    yield session
    session.stop()


def _book() -> list[dict[str, Any]]:
    rng = random.Random(7)
    accounts = [{"id": i, **account(rng)} for i in range(300)]
    accounts[5]["usdt_index"] = "-1"  # rejected: must be > 0
    return accounts


@pytest.mark.parametrize("backend", ["columnar", "exact"])
def test_spark_equals_exact(spark: Any, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    rs = rulelang.load(BENCH)
    book = _book()
    df = spark.createDataFrame(book, schema=input_schema(BENCH, "id bigint")).repartition(3)
    rows = {r["id"]: r.asDict() for r in evaluate(df, BENCH, keep=["id"], backend=backend).collect()}
    assert sorted(rows) == list(range(len(book)))
    for acc in book:
        got = rows[acc["id"]]
        data = {k: v for k, v in acc.items() if k != "id"}
        try:
            want = rs.evaluate(data)
        except rulelang.InputError as err:
            assert "must be > 0" in got["error"] and str(err).splitlines()[0][:20] in got["error"]
            assert got["equity"] is None and got["risk_level"] is None
            continue
        assert got["error"] is None
        assert got["risk_level"] == want.levels["risk_level"].level
        assert got["risk_level.actions"] == " ".join(want.levels["risk_level"].actions)
        assert got["has_requirement"] == want.values["has_requirement"]
        for name in ("equity", "maintenance", "margin_ratio", "collateral_value"):
            exact = want.values[name]
            assert isinstance(exact, Decimal)
            assert math.isclose(got[name], float(exact), rel_tol=1e-9, abs_tol=1e-9), name


def test_bad_arguments(spark: Any) -> None:
    df = spark.createDataFrame([{"id": 1}])
    with pytest.raises(ValueError, match="backend"):
        evaluate(df, str(ROOT / BENCH), backend="gpu")
    with pytest.raises(ValueError, match="no column nope"):
        evaluate(df, str(ROOT / BENCH), keep=["nope"])
