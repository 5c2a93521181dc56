# The two commands a newcomer needs: `make demo` and `make test` (plus `make bench`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test bench lint serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/omnicrm demo --host $(HOST) --port $(PORT)

serve: $(STAMP_RUN)
	$(BIN)/omnicrm serve --host $(HOST) --port $(PORT)

test: $(STAMP_DEV)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check .

bench: $(STAMP_DEV)
	$(BIN)/python -m bench.nlu
	$(BIN)/python -m bench.pipeline $(BENCH_ARGS)
	$(BIN)/python -m bench.console_list

# The README's console screenshots, from a seeded app in Debian's headless Chromium.
.PHONY: screenshots
screenshots: $(STAMP_DEV)
	$(BIN)/python -m scripts.screenshots

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
