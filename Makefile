# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.12
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench setup browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cbsim run baseline_2011 --seed 1 --out out/demo --force

# Everything CI checks: lint (ruff, format, mypy), then every test, slow and browser included.
test: lint browser
	$(PY) -m pytest -q -m ""

LINTED := cbsim tests benchmarks scripts docs/*.py

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy

# Everything the workshop view and its browser tests need offline (see scripts/).
browser: $(STAMP)
	@if [ -x scripts/setup_browser.sh ]; then scripts/setup_browser.sh $(VENV); fi

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) out sweeps .pytest_cache
