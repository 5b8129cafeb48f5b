# Two commands: `make run` starts the whole product, `make test` proves it.
# Both set everything up first (venv, pinned packages, Debian packages as root).
.PHONY: run test bench eval lint setup setup-test clean

VENV := .venv
BIN := $(VENV)/bin

setup:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

run: setup
	$(BIN)/kcs run

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: setup-test
	$(BIN)/python benchmarks/run_all.py

# Classifier and linker on the test split: written by authors whose work was never
# trained or tuned on (corpus/README.md).
eval: setup
	$(BIN)/kcs eval corpus/test/independent/*.jsonl
	$(BIN)/kcs link-eval dedupe/scenarios/test/*.jsonl

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
