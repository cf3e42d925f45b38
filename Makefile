# The README's two commands: `make serve` (server on the embedded SQLite default) and `make test`
# (every check and the whole test suite). Both create .venv and install the project on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: serve test lint bench bench-kill clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,test]'
	touch $@

serve: $(BIN)/.installed
	$(BIN)/intentd serve

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench examples scripts
	$(BIN)/ruff format --check src tests bench examples scripts
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python scripts/gen_sync.py --check
	$(BIN)/python scripts/gen_permissions.py --check

test: lint
	$(BIN)/pytest

bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[server,test,bench]'
	$(BIN)/python -m bench.run

bench-kill: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[server,test,bench]'
	$(BIN)/python -m bench.kill

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
