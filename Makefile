# buergerbot – the two commands a city IT team needs: `make run` and `make test`.
# Every target is idempotent; stamp files make re-runs fast.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RASA_VENV := .venv-rasa
RASA_STAMP := $(RASA_VENV)/.installed
export RASA_TELEMETRY_ENABLED := false
export ANONYMIZED_TELEMETRY := False
export OMP_NUM_THREADS ?= 2

.PHONY: setup run test check lint bench index clean

setup: $(STAMP) $(RASA_STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 fehlt: '$(PYTHON)' nicht gefunden (PYTHON=/pfad/zu/python3.11 setzen)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

# Rasa 3.6 runs only on Python 3.10: its own virtualenv, its own process.
$(RASA_STAMP): requirements-rasa.lock
	@PY310=$$(ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 2>/dev/null | tail -n 1); \
	if [ -z "$$PY310" ] && python3.10 --version >/dev/null 2>&1; then PY310=$$(command -v python3.10); fi; \
	if [ -z "$$PY310" ]; then echo "Python 3.10 fehlt (für Rasa 3.6): weder \$$(pyenv root)/versions/3.10.* noch python3.10 im PATH gefunden."; exit 1; fi; \
	test -x $(RASA_VENV)/bin/python || $$PY310 -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RASA_VENV)/bin/python -m pip install --quiet -c requirements-rasa.lock rasa==3.6.21
	@touch $@

index: setup
	$(VENV)/bin/buergerbot ingest knowledge/content

run: setup index
	BUERGERBOT_DEMO_ACCOUNTS=$${BUERGERBOT_DEMO_ACCOUNTS:-true} $(VENV)/bin/buergerbot serve

# Browser tests drive Debian's Chromium (never a browser download) and inject axe-core from npm.
BROWSER_STAMP := .cache/.browser-tools
$(BROWSER_STAMP):
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@mkdir -p .cache/npm && npm install --silent --prefix .cache/npm --no-audit --no-fund axe-core@4.14.1 >/dev/null
	@touch $@

# Style, formatting, the allowed import directions (README "Architecture") and types.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# The full suite CI runs: lint first, then every test (Rasa training and headless Chromium included).
test: lint $(BROWSER_STAMP)
	$(PY) -m pytest -q

# The quick loop while working (under two minutes on two cores): lint and types, then the tests not marked slow.
check: lint
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) -m bench.retrieval_eval

clean:
	rm -rf .data
