# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rulelang check rulesets/
	$(VENV)/bin/rulelang test rulesets/
	$(VENV)/bin/rulelang eval rulesets/okx/tiered_margin.rules --input examples/tiered_margin_accounts.jsonl --format table
	$(VENV)/bin/rulelang explain rulesets/okx/tiered_margin.rules --input examples/position_120_btc.json --value maintenance_margin_btc

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check rulelang tests
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
