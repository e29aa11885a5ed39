# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
OBSERVATORY_DATA_DIR ?= .observatory

.PHONY: run run-emulated test install install-dev lint typecheck unit bench bench-pipeline clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[clickhouse]'

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,firestore,pubsub,clickhouse,trace]'
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

run: install
	PORT=$(PORT) OBSERVATORY_DATA_DIR=$(OBSERVATORY_DATA_DIR) $(BIN)/observatory serve --port $(PORT) --data-dir $(OBSERVATORY_DATA_DIR)

# The emulated cloud: Firestore and Pub/Sub emulators, one functions-framework process per function, Pub/Sub
# pushes to the workers, one router port (STORE=firestore to use the Firestore store).
STORE ?= sqlite

run-emulated: install-dev
	PORT=$(PORT) OBSERVATORY_DATA_DIR=$(OBSERVATORY_DATA_DIR) $(BIN)/observatory cloud --port $(PORT) --data-dir $(OBSERVATORY_DATA_DIR) --store $(STORE)

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
	# The HTTP suites again on the Firestore store (emulator): every route answers the same on both adapters.
	OBSERVATORY_TEST_STORE=firestore $(BIN)/pytest tests/functions

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/analytics.py

bench-pipeline: install-dev
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) .observatory .pytest_cache .mypy_cache .ruff_cache *.egg-info
