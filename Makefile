# One target per chore; `make help` lists them. The scripts under scripts/ do the work, so
# each target also runs without make (e.g. scripts/run.sh).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ARGS ?=

.PHONY: help sync run test lint fmt bench migrate events-catalogue deadletters

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

sync: ## Install the locked packages of every workspace member (uv sync --frozen)
	uv sync --frozen --all-packages

run: ## Set up this machine and run the whole platform behind the gateway (Ctrl-C stops it)
	bash scripts/run.sh

test: ## Set up this machine and run every test (pass pytest options with ARGS="...")
	bash scripts/test.sh $(ARGS)

lint: sync ## ruff check, ruff format --check, mypy (strict)
	uv run --no-sync ruff check .
	uv run --no-sync ruff format --check .
	uv run --no-sync mypy libs services tests bench

fmt: sync ## Format and autofix with ruff
	uv run --no-sync ruff format .
	uv run --no-sync ruff check --fix .

bench: ## Benchmarks: event pipeline, tokens and sign-in, grade sheets and results, the roll-call peak, signing (ratios to raw baselines)
	uv run --no-sync python -m bench.events
	uv run --no-sync python -m bench.identity
	uv run --no-sync python -m bench.records
	uv run --no-sync python -m bench.attendance
	uv run --no-sync python -m bench.signing

migrate: ## Create the databases and vhost if missing and run every service's migrations
	bash scripts/setup.sh
	bash scripts/migrate.sh

events-catalogue: ## Regenerate the events' JSON Schemas and the AsyncAPI document
	uv run hsdt-events-catalogue

deadletters: ## List the messages in the dead-letter queues
	uv run --no-sync hsdt-deadletters --amqp-url "amqp://guest:guest@127.0.0.1:5672/$${HSDT_VHOST:-hsdt}" list
