# watchkeeper — every target sets up what it needs (venv, packages, Kafka jars).
# `make test` and `make demo` work from a fresh clone.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv kafka-jars kafka-up kafka-down kafka-status topics test test-unit lint bench demo demo-loop clean

help:
	@echo "make demo        run the demo on a local Kafka (or KAFKA_BOOTSTRAP_SERVERS)"
	@echo "make demo-loop   the retraining loop: drift -> retrain -> canary -> promoted"
	@echo "make test        set everything up and run the whole test suite"
	@echo "make lint        ruff"
	@echo "make bench       run every benchmark under loadtest/ (figures in loadtest/results/)"
	@echo "make kafka-up    start the local single-node Kafka (idempotent); kafka-down stops it"
	@echo "make topics      create or update the topics on the cluster"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "watchkeeper needs Python 3.11 or newer; install it and run make again (or PYTHON=python3.11 make ...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[services,dev]'
	@touch $@

venv: $(STAMP)

kafka-jars: $(STAMP)
	$(PY) -m watchkeeper kafka jars

kafka-up: $(STAMP)
	$(PY) -m watchkeeper kafka up

kafka-down: $(STAMP)
	$(PY) -m watchkeeper kafka down

kafka-status: $(STAMP)
	$(PY) -m watchkeeper kafka status

topics: $(STAMP)
	$(PY) -m watchkeeper topics apply

# The test session starts its own broker on free ports (or uses KAFKA_BOOTSTRAP_SERVERS)
# and stops it afterwards; fetching the jars first (the broker's and MirrorMaker 2's, for
# the replication tests) keeps that out of the test timeouts.
# Likewise the registry's MLflow tests: mlflow goes into .cache/mlflow-<version> (its own
# venv, once; a stamp makes the step a no-op after that) before pytest starts, and Debian's
# prometheus / promtool / amtool builds for the Prometheus interop tests (unpacked into
# .cache/debian, never installed system-wide).
test: $(STAMP)
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then $(PY) -m watchkeeper kafka jars; fi
	$(PY) -m watchkeeper.devstack.mlflow_server install
	$(PY) -m watchkeeper.devstack.debian install
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest -m "not kafka" $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m watchkeeper schemas check

bench: $(STAMP)
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then $(PY) -m watchkeeper kafka jars; fi
	$(PY) -m loadtest $(BENCH)

demo: $(STAMP)
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then $(PY) -m watchkeeper kafka jars; fi
	$(PY) -m loadtest.demo

demo-loop: $(STAMP)
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then $(PY) -m watchkeeper kafka jars; fi
	$(PY) -m loadtest.demo_loop

clean:
	-$(PY) -m watchkeeper kafka down
	rm -rf $(VENV) .cache loadtest/results .pytest_cache .ruff_cache
