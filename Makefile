# The two commands of the README: `make demo` (the main job) and `make test` (everything the tests need, then
# the tests). Each sets up what it needs: the virtual environment, the Python packages, the local services.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: demo test lint bench services clean

$(STAMP): pyproject.toml
	PYTHON=$(PYTHON) scripts/ensure-system
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/suratbot demo

services:
	scripts/ensure-services

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) services lint
	$(BIN)/python -m pytest

bench: $(STAMP) services
	$(BIN)/python bench/services_bench.py
	$(BIN)/python bench/signing_bench.py
	$(BIN)/python bench/telegram_bench.py
	$(BIN)/python bench/reminders_bench.py
	$(BIN)/python bench/web_bench.py
	$(BIN)/python bench/word_bench.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache .hypothesis
