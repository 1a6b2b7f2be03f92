# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make book   -> .venv (requirements.txt + this project, editable) + HTML book in _build/html
#   make test   -> .venv + system packages the tests need + the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp records which requirements.txt the venv was built from, so an
# edited requirements.txt or pyproject.toml (or a deleted venv) triggers a
# reinstall.
STAMP := $(VENV)/.requirements.txt

.PHONY: venv book test test-fast lint bench bench-quick release system-deps clean

venv: $(STAMP)

# After the pinned toolchain, the project itself (packages `solutions` and
# `autograder`, pyproject.toml) in editable mode: the chapters, the autograder,
# the benchmarks and the tests import it from any directory. Its dependencies
# are already in requirements.txt, and setuptools there builds it offline.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	cp requirements.txt $(STAMP)

book: venv
	$(BIN)/jupyter-book build . -W -n --keep-going

system-deps:
	@bash .ci/system-deps

test: venv system-deps
	$(BIN)/python -m pytest

# Everything but the slow end-to-end suites (book build, browser, autograder corpus).
test-fast: venv
	$(BIN)/python -m pytest -m "not slow"

lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python -m benchmarks

bench-quick: venv
	$(BIN)/python -m benchmarks --quick

release: venv
	$(BIN)/python -m autograder release

clean:
	rm -rf _build build dist *.egg-info
