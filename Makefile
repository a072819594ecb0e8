# Every recipe is one line you could type by hand.
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint format bench worker install

run: install
	bash platform/run.sh

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: install
	$(BIN)/pip install -qq -e '.[dev,bench]' && $(BIN)/python -m bench

worker: install
	$(BIN)/celery -A config worker --beat --loglevel=info

# Also gives the checkout its own secrets in .env, once (DEBUG=false refuses to start without).
install: $(VENV)/.installed
	bash platform/secrets.sh .env

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV) && $(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -e '.[dev]' && touch $@
