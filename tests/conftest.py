"""Test-wide settings: rulesets are cached in a folder of the test session, never in ~/.cache."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("RULELANG_CACHE_DIR", tempfile.mkdtemp(prefix="rulelang-test-cache-"))
