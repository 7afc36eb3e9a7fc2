# The README's two commands are `make dev` and `make test`; everything they need is here.
SHELL := /bin/bash
PYTHON_BOOT := $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# apt-get needs root; use sudo only where we are not root already.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: venv dev dev-reset check test bench chromium frontend deploy

venv: $(STAMP)

# Reinstall only when a requirements file changed since the last install.
$(STAMP): requirements.txt requirements-worker.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

dev: venv frontend
	$(PY) scripts/dev.py

dev-reset:
	rm -rf $${LOCAL_DATA_DIR:-.local-data}

# Browser tests drive Debian's chromium (never a downloaded browser).
chromium:
	test -x /usr/bin/chromium || { $(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium; }

# npm ci only when the lock changed since the last install (a clean clone always installs).
frontend:
	if [ -f frontend/package.json ]; then cd frontend && \
		{ [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci; } && npm run build; fi

# Guardrails, in seconds: lint, types, import contracts (.importlinter) and the tests that start
# nothing (no moto, no processes). A new test file of that kind belongs in PURE_TESTS.
PURE_TESTS := tests/test_masks.py tests/test_imaging.py tests/test_storage_keys.py tests/unit/test_cli_layout.py \
	tests/unit/test_cli_progress.py tests/unit/test_legacy_fields.py \
	tests/unit/test_architecture_doc.py tests/unit/test_cli_upload_retries.py \
	tests/unit/test_task_fields.py tests/unit/test_clock_and_settings.py tests/unit/test_schemas.py \
	tests/unit/test_http_retries.py \
	tests/unit/test_lease_state.py
check: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo
	$(PY) -m pytest -q $(PURE_TESTS)

# pytest exits 5 when it collected no tests: not a failure for a suite still growing.
test: venv chromium frontend
	status=0; $(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then status=0; fi; exit $$status

bench: venv chromium frontend
	for script in bench/*.py; do \
		[ -e "$$script" ] || continue; $(PY) "$$script" || exit 1; \
	done

# One command to AWS (needs AWS credentials): tables, buckets, queue, keys, CDN, API and site.
STAGE ?= dev
deploy: venv frontend
	$(PY) infra/deploy.py $(STAGE)
