# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint check bench clean docs test-browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev,batch,spark]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rulelang check rulesets/
	$(VENV)/bin/rulelang test rulesets/
	$(VENV)/bin/rulelang eval rulesets/okx/tiered_margin.rules --input examples/tiered_margin_accounts.jsonl --format table
	$(VENV)/bin/rulelang explain rulesets/okx/tiered_margin.rules --input examples/position_120_btc.json --value maintenance_margin_btc
	mkdir -p build/demo
	$(VENV)/bin/rulelang eval rulesets/bench/account.rules --input examples/book/accounts.jsonl --output build/demo/results.parquet --backend columnar
	$(VENV)/bin/rulelang diff rulesets/bench/account.rules rulesets/bench/account.rules --accounts examples/book/accounts.jsonl --new-param warning_line=160% --top 3
	$(VENV)/bin/rulelang versions rulesets/binance/maintenance_margin/

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check rulelang tests benchmarks examples
	$(VENV)/bin/ruff format --check rulelang tests benchmarks examples
	$(VENV)/bin/mypy

# Timings (results/latest.md) and peak memory of streaming up to 10 million accounts (results/memory.md).
bench: $(STAMP)
	$(PY) -m benchmarks --large
	$(PY) -m benchmarks.memory --accounts 200000 1000000 5000000 10000000

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# The rendered rulebooks of the shipped rulesets (tests/test_render_docs.py fails when they are stale).
docs: $(STAMP)
	rm -rf docs/rulebooks
	$(VENV)/bin/rulelang docs rulesets -o docs/rulebooks/en --format md --lang en
	$(VENV)/bin/rulelang docs rulesets -o docs/rulebooks/zh --format md --lang zh

# Renders a generated page in headless Chromium (Debian's package, installed here as root).
test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk)
	$(PY) -m pytest -q -m browser
