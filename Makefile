# sandtable: `make demo` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system venv demo test bench clean distclean

## setup: system packages (apt), the virtual environment, the project (editable, dev extras)
setup: system venv

system:
	@sh scripts/setup-system.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

## demo: database up, the district loaded, (simulate, ingest,) serve
demo: setup
	$(BIN)/sandtable demo

## test: the whole test suite on a throwaway PostGIS cluster
test: setup
	$(BIN)/python -m pytest -q

## bench: the performance suite (not part of `make test`)
bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf .pytest_cache build *.egg-info

distclean: clean
	-$(BIN)/sandtable db down
	rm -rf $(VENV) .sandtable
