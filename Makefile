# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# `make install` / `make uninstall` (as root): the service, see packaging/install.sh.
PREFIX  ?= /opt/remediator
BINDIR  ?= /usr/local/bin
UNITDIR ?= /etc/systemd/system
EXTRAS  ?=
DESTDIR ?=
INSTALL := PYTHON='$(PYTHON)' PREFIX='$(PREFIX)' BINDIR='$(BINDIR)' UNITDIR='$(UNITDIR)' \
	EXTRAS='$(EXTRAS)' DESTDIR='$(DESTDIR)' sh packaging/install.sh

.PHONY: demo test check lint types unit unit-fast bench chaos clean install uninstall

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/remediator demo

test: check unit

check: lint types

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

# The edit-test loop: no external binary, no PostgreSQL, no subprocess daemon.
unit-fast: $(STAMP)
	$(BIN)/pytest -q -m "not e2e"

bench: $(STAMP)
	$(BIN)/python bench/probes.py
	$(BIN)/python bench/webhook.py

install:
	$(INSTALL) install

uninstall:
	$(INSTALL) uninstall

# The fault campaign of docs/RELIABILITY.md at full scale (about 20 minutes; needs root for its
# tmpfs, Debian's faketime and PostgreSQL, as .ci/run installs them); not part of `make test`,
# which runs a reduced version of each part. It prints one table of figures.
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
