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
	$(VENV)/bin/cbsim run baseline_2011 --seed 1 --out out/demo

test: $(STAMP) browser
	$(VENV)/bin/ruff check cbsim tests benchmarks
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check cbsim tests benchmarks

# Everything the workshop view and its browser tests need offline (see scripts/).
browser: $(STAMP)
	@if [ -x scripts/setup_browser.sh ]; then scripts/setup_browser.sh $(VENV); fi

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) out sweeps .pytest_cache
