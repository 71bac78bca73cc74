# The two commands of the README: `make run` and `make test`. Everything they need
# is installed here, so a fresh machine (or CI on a clean clone) needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint install install-test chromium clean

# pip runs again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Browser tests drive Debian's Chromium (downloading a browser does not work here).
chromium:
	@test -x $(CHROMIUM) || { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; }

run: install
	$(BIN)/survey-engine demo --host $(HOST) --port $(PORT)
	$(BIN)/survey-engine serve --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .

test: install-test chromium lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
