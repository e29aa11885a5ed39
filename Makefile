# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
OBSERVATORY_DATA_DIR ?= .observatory

.PHONY: run test install install-dev lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,firestore,pubsub]'

run: install
	PORT=$(PORT) OBSERVATORY_DATA_DIR=$(OBSERVATORY_DATA_DIR) $(BIN)/observatory serve --port $(PORT) --data-dir $(OBSERVATORY_DATA_DIR)

lint: install-dev
	$(BIN)/ruff check .

typecheck: install-dev
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py

clean:
	rm -rf $(VENV) .observatory .pytest_cache .mypy_cache .ruff_cache *.egg-info
