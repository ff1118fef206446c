# `make demo` and `make test` set everything up from nothing (see scripts/setup.sh).
VENV ?= .venv
STAMP := $(VENV)/.lingualift-setup
PYTEST_ARGS ?=

.PHONY: setup demo test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh

demo: setup
	$(VENV)/bin/lingualift run

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check lingualift tests
	$(VENV)/bin/ruff format --check lingualift tests

clean:
	rm -rf $(VENV) build *.egg-info
