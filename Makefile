# Podium: `make demo` and `make test` work on a fresh machine; everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
NODE_DIR := tests/e2e/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
VSCODE_DIR := clients/vscode
VSCODE_STAMP := $(VSCODE_DIR)/node_modules/.installed
AGENTS_DIR := tests/e2e/agent_clients
AGENTS_STAMP := $(AGENTS_DIR)/node_modules/.installed

.PHONY: demo test lint typecheck pytest bench bench-gate venv node-tools clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Real MCP clients for the end-to-end tests (the MCP Inspector CLI), pinned in $(NODE_DIR)/package-lock.json.
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The VS Code extension's toolchain (tsc, @types/vscode, vscode-languageclient), pinned in its package-lock.json.
$(VSCODE_STAMP): $(VSCODE_DIR)/package.json $(VSCODE_DIR)/package-lock.json
	cd $(VSCODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(VSCODE_STAMP)

# The coding-agent CLIs (OpenCode, Claude Code) the end-to-end tests drive, pinned in its package-lock.json.
# `npm install --no-save`, not `npm ci`: the lock lists only the platform binaries the registry serves, and
# `npm ci` refuses a lock without every optional platform package; --no-save installs from the lock as is.
$(AGENTS_STAMP): $(AGENTS_DIR)/package.json $(AGENTS_DIR)/package-lock.json
	cd $(AGENTS_DIR) && npm install --no-save --no-audit --no-fund --loglevel=error
	touch $(AGENTS_STAMP)

node-tools: $(NODE_STAMP) $(VSCODE_STAMP) $(AGENTS_STAMP)

demo: $(STAMP)
	$(BIN)/python clients/demo/run_demo.py
	$(BIN)/python clients/demo/mission_demo.py
	$(BIN)/python clients/demo/run_mission.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check server orchestration verification tests clients/demo/*.py

typecheck: $(STAMP)
	$(BIN)/basedpyright

pytest: $(STAMP) $(NODE_STAMP) $(VSCODE_STAMP) $(AGENTS_STAMP)
	PODIUM_REQUIRE_E2E_TOOLS=1 $(BIN)/python -m pytest -q tests --ignore=tests/bench

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m tests.bench

# The gate on real release edits (issue 8): downloads pinned PyPI/npm releases into tests/bench/gate_corpus/work/.
bench-gate: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m tests.bench.gate_corpus

clean:
	rm -rf $(VENV) .pytest_cache build dist $(NODE_DIR)/node_modules $(VSCODE_DIR)/node_modules $(VSCODE_DIR)/out \
		$(AGENTS_DIR)/node_modules
