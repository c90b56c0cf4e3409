# Two commands on a fresh machine (Debian, Python 3.11): `make serve` and `make test`.
# the distribution's python3.11 when there is one: faster here (scripts/python.sh says why)
PYTHON ?= $(shell bash scripts/python.sh)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# which interpreter .venv was built on: a different one rebuilds it
PYTHON_MARK := $(VENV)/.python

.PHONY: serve test install lint typecheck pytest bench fuzz faults mutants rasa-serve bench-rasa clean FORCE

$(PYTHON_MARK): FORCE
	@[ "$$(cat $@ 2>/dev/null)" = "$(PYTHON)" ] || { mkdir -p $(VENV); echo "$(PYTHON)" > $@; }

$(STAMP): pyproject.toml $(PYTHON_MARK)
	$(PYTHON) -m venv --clear $(VENV)
	echo "$(PYTHON)" > $(PYTHON_MARK)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install and run the server on the demo shop with SQLite. The demo's tokens are "demo":
## simulator, sandbox PSP secret (the payment page's Simulate buttons) and merchant API.
serve: $(STAMP)
	HAAT_SIMULATOR_TOKEN=$${HAAT_SIMULATOR_TOKEN:-demo} HAAT_SANDBOX_SECRET=$${HAAT_SANDBOX_SECRET:-demo} HAAT_ADMIN_TOKEN=$${HAAT_ADMIN_TOKEN:-demo} $(BIN)/haat serve --shop $${HAAT_SHOP_DIR:-config}

## Install everything and run every check and test (what CI runs).
test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench

## 100,000 hostile, validly signed requests on every route of a real `haat serve` (a few
## minutes of both cores); counts by status code per route and the slowest answer.
## Findings (5xx, slower than 2 s) are kept in tests/fuzz_corpus/. FUZZ_ARGS adds options.
fuzz: $(STAMP)
	$(BIN)/haat fuzz --count $${FUZZ_COUNT:-100000} $(FUZZ_ARGS)
## The fault soak: every fault test's scenario repeated (HAAT_FAULT_ROUNDS, default 10), counted.
faults: $(STAMP)
	bash scripts/faults.sh

## Mutation testing of the trust paths (docs/TESTING.md): score per module and the survivors.
## MODULES="payments/upi.py" limits it; results are kept in .mutants/ (a rerun resumes).
mutants: $(STAMP)
	MODULES="$(MODULES)" bash scripts/mutants.sh

## A real Rasa server trained on the demo shop (its own Python 3.10 venv), and Rasa vs built-in.
rasa-serve: $(STAMP)
	bash scripts/rasa-serve.sh

bench-rasa: $(STAMP)
	$(BIN)/python -m bench.bench_rasa

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache haat.db haat.db-wal haat.db-shm haat.db-sent
