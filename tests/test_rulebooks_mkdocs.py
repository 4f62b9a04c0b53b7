"""The committed Markdown rulebooks build with MkDocs in strict mode (broken links fail it)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rulebooks_build_with_mkdocs(lang: str, tmp_path: pathlib.Path) -> None:
    pytest.importorskip("mkdocs")
    shutil.copytree(ROOT / "docs" / "rulebooks" / lang, tmp_path / "docs")
    (tmp_path / "mkdocs.yml").write_text("site_name: rulebooks\nstrict: true\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    page = (tmp_path / "site" / "okx_tiered_margin" / "index.html").read_text(encoding="utf-8")
    assert "<table>" in page
    assert "\\&lt;" not in page and "\\<" not in page  # no escape shown as a backslash
    assert "okx_tiered_margin/btc_tiers-mmr-margin.svg" in page or "btc_tiers-mmr-margin.svg" in page
