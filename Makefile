# The two commands: `make demo` makes a video from a sample project, `make test` runs the tests.
# Both set everything up first (system packages, virtualenv, Redis) when needed.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo demo-en test bench bench-render redis server deploy worker recover clean

# Running as a service: `make server` in one terminal, `make deploy` once, `make worker` in as
# many terminals (or machines) as you like. They talk to the server at PREFECT_API_URL.
PREFECT_PORT ?= 4200
deploy worker recover: export PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api

setup:
	@bash scripts/setup.sh

demo: setup
	@$(VENV)/bin/ytmaker demo

demo-en: setup
	@$(VENV)/bin/ytmaker demo --language en

test:
	@bash scripts/setup.sh test
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; exit $$rc

bench-render: setup
	@$(PY) benchmarks/render_bench.py

# The whole pipeline: stage times, cached rerun (with and without a server), fan-out.
bench: setup
	@$(PY) benchmarks/pipeline_bench.py

redis: setup

server: setup
	@PREFECT_SERVER_ANALYTICS_ENABLED=false \
	  PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=$${PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE:-prefect.server.concurrency.lease_storage.filesystem} \
	  $(VENV)/bin/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

deploy: setup
	@$(VENV)/bin/ytmaker deploy

worker: setup
	@$(VENV)/bin/ytmaker worker

recover: setup
	@$(VENV)/bin/ytmaker recover

clean:
	rm -rf data/projects data/published data/results data/*.db data/*.db-* benchmarks/out
