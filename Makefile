# The two commands: `make demo` makes a video from a sample project, `make test` runs the tests.
# Both set everything up first (system packages, virtualenv, Redis) when needed.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo demo-en test bench-render redis clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(VENV)/bin/ytmaker demo

demo-en: setup
	@$(VENV)/bin/ytmaker demo --language en

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; exit $$rc

bench-render: setup
	@$(PY) benchmarks/render_bench.py

redis: setup

clean:
	rm -rf data/projects data/published data/results data/*.db data/*.db-* benchmarks/out
