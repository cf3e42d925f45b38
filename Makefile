# The README's two commands: `make serve` (server on the embedded SQLite default) and `make test`
# (every check and the whole test suite). Both create .venv and install the project on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The framework integrations are tested in environments of their own, made once and kept (remade when
# pyproject.toml changes): CrewAI's pins conflict with the others' (docs/frameworks.md).
FW     := .venvs/frameworks/bin
CREW   := .venvs/crewai/bin

.PHONY: serve test lint bench bench-kill screenshots clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,test,testing]'
	touch $@

$(FW)/.installed: pyproject.toml
	$(PYTHON) -m venv .venvs/frameworks
	$(FW)/python -m pip install --quiet --upgrade pip
	$(FW)/python -m pip install --quiet -e '.[server,test,testing,langgraph,autogen,openai-agents,a2a]'
	touch $@

# CrewAI's environment has no server (CrewAI pins mcp<2): its tests start `intentd serve` from .venv.
$(CREW)/.installed: pyproject.toml
	$(PYTHON) -m venv .venvs/crewai
	$(CREW)/python -m pip install --quiet --upgrade pip
	$(CREW)/python -m pip install --quiet -e '.[crewai]' 'pytest>=8' 'pytest-asyncio>=0.24' 'pytest-timeout>=2.3'
	touch $@

serve: $(BIN)/.installed
	$(BIN)/intentd serve

lint: $(BIN)/.installed $(FW)/.installed
	$(BIN)/ruff check src tests bench examples scripts
	$(BIN)/ruff format --check src tests bench examples scripts
	$(BIN)/lint-imports
	$(FW)/mypy  # where the integrations' own types are installed
	$(BIN)/python scripts/gen_sync.py --check
	$(BIN)/python scripts/gen_permissions.py --check

test: lint $(CREW)/.installed
	$(BIN)/pytest -n auto  # xdist: the suite waits on servers and subprocesses more than it computes
	INTENTD_TEST_CREWAI_PYTHON=$(CURDIR)/$(CREW)/python $(FW)/pytest -n auto tests/frameworks
	INTENTD_TEST_SERVER=$(CURDIR)/$(BIN)/intentd $(CREW)/pytest tests/crewai --confcutdir=tests/crewai

bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[server,test,bench]'
	$(BIN)/python -m bench.run

bench-kill: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[server,test,bench]'
	$(BIN)/python -m bench.kill

screenshots: $(BIN)/.installed  # docs/screenshots/*.png, taken by the browser tests on SQLite
	INTENTD_SCREENSHOTS=1 $(BIN)/pytest tests/ui/test_browser.py -k sqlite

clean:
	rm -rf $(VENV) .venvs .pytest_cache .ruff_cache
