# The README's two commands: `make grade` and `make test`. Both set everything up first:
# a virtualenv with the grader, a Docker engine (started as root when none answers), and the
# base images the bundled submissions use (pulled, or built offline as labelled stand-ins).
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTHON  ?= python3
OUTPUT  ?= reports

.PHONY: setup engine images tools bytecode grade test unit lint clean

$(STAMP): pyproject.toml
	bash scripts/venv.sh $(PYTHON) $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

engine:
	bash scripts/engine-up.sh

images: engine
	bash scripts/base-images.sh

tools:
	bash scripts/tools.sh

# The grader's own bytecode, written now: where PYTHONDONTWRITEBYTECODE is set (as on these
# machines) Python would otherwise compile every module of grader/ on every run (~0.1 s).
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q grader checks

setup: $(STAMP) images tools bytecode

grade: setup  ## grade the bundled submissions into reports/
	$(BIN)/grade submissions/ --output $(OUTPUT)

test: setup  ## the whole suite: unit tests and real-engine integration tests
	$(BIN)/pytest

unit: $(STAMP)  ## unit tests only (no engine needed)
	$(BIN)/pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy bench
	$(BIN)/lint-imports
	sh scripts/commit-subjects.sh $(BIN)/gitlint
	$(BIN)/mkdocs build --strict --quiet --site-dir $$(mktemp -d)

clean:
	rm -rf $(OUTPUT) .mypy_cache .ruff_cache

# The benchmark against raw Docker (bench/, README "Performance"): prints a table and writes
# bench/results/latest.json. BENCH_ARGS='--quick' for a smoke run, '--only tp6-ok --repeat 5'...
.PHONY: bench
bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)
