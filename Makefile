# buergerbot – the two commands a city IT team needs: `make run` and `make test`.
# Every target is idempotent; stamps make re-runs fast.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export RASA_TELEMETRY_ENABLED := false
export ANONYMIZED_TELEMETRY := False
export OMP_NUM_THREADS ?= 2

.PHONY: setup run test lint bench index clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 fehlt: $(PYTHON) nicht gefunden (PYTHON=... setzen)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

index: setup
	$(VENV)/bin/buergerbot ingest knowledge/content

run: setup index
	$(VENV)/bin/buergerbot serve

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

bench: setup
	$(PY) -m bench.retrieval_eval

clean:
	rm -rf .data
