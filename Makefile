# bss-oss-rust — developer entry points. The local stack is scripts/devstack.sh (no Docker needed): a private
# PostgreSQL and Redis under .dev/ and the four services built from this workspace.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

DEVSTACK := bash scripts/devstack.sh
# Extra arguments for `make test`, passed to cargo nextest: make test ARGS='-p catalog'
ARGS ?=
# Scopes for `make token`: make token SCOPES='catalog:read order:write'
SCOPES ?=

.PHONY: help run up down status env token test build fmt lint clean-dev deps infra-up infra-down deploy-check k8s \
	backup restore bench chaos fuzz sdk

help: ## list the targets
	@echo "Targets:"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-zA-Z_-]*:.*## / { printf "  %-11s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo "Settings: BSS_DEV_DIR, BSS_PG_PORT, BSS_REDIS_PORT, BSS_PORT_<SERVICE>, RUST_LOG (see scripts/devstack.sh)"

run: ## start the stack in the foreground, following the logs; Ctrl-C stops everything
	@$(DEVSTACK) run

up: ## start PostgreSQL, Redis and the four services in the background
	@$(DEVSTACK) up

down: ## stop the services, Redis and PostgreSQL (data is kept)
	@$(DEVSTACK) down

status: ## show what runs
	@$(DEVSTACK) status

env: ## print export lines for the stack: eval "$(make -s env)"
	@$(DEVSTACK) env

token: ## print a bearer token for the local stack (SCOPES='catalog:read ...' to narrow it)
	@SCOPES='$(SCOPES)' $(DEVSTACK) token

test: ## workspace tests (cargo nextest) against the local PostgreSQL/Redis, then the stack, backup and SDK tests
	@$(DEVSTACK) test $(ARGS)

build: ## cargo build --bins (debug)
	@$(DEVSTACK) build

deploy-check: ## offline checks of Dockerfiles, compose, Helm charts, deploy/k8s, dashboards, alert rules, workflows
	@bash scripts/check-deploy.sh

k8s: ## regenerate deploy/k8s (and the chart's copies of rules and dashboards) from the Helm chart
	@eval "$$(bash scripts/deploy-tools.sh)" && python scripts/helm/gen-k8s.py

backup: ## dump the local stack's database to backups/ (FILE=path to choose; DATABASE_URL for another one)
	@bash scripts/backup.sh $(FILE)

restore: ## restore a dump into the local stack's database, replacing its data: make restore FILE=backups/….dump
	@bash scripts/restore.sh --yes $(FILE)

bench: ## the standard load runs on a stack of their own (release build), written to docs/benchmarks.md
	@bash scripts/bench/all.sh

chaos: ## faults and a rolling restart under load on a stack of their own, written to docs/resilience.md
	@bash scripts/chaos/run.sh

fuzz: ## schemathesis against each service's /openapi.json and the official TMF v4 specs: no 5xx, TMF errors
	@bash scripts/fuzz/run.sh

sdk: ## generate the Python, TypeScript and Go clients from the services' OpenAPI documents into sdk/
	@bash scripts/sdk/generate.sh

fmt: ## format the code
	cargo fmt --all

lint: ## rustfmt check, clippy with warnings as errors, dependency checks and cargo deny
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	bash scripts/check-deps.sh
	bash scripts/check-deny.sh

clean-dev: ## stop every stack under .dev, then delete .dev (databases, logs, the JWT secret)
	@for dir in .dev/*/; do \
	  if [[ -d $$dir/pg || -d $$dir/redis || -d $$dir/pids ]]; then BSS_DEV_DIR=$(CURDIR)/$${dir%/} $(DEVSTACK) clean; fi; \
	done
	@BSS_DEV_DIR=$(CURDIR)/.dev $(DEVSTACK) clean

deps: ## install PostgreSQL, Redis and curl when missing (Debian)
	@$(DEVSTACK) deps

infra-up: ## start only PostgreSQL and Redis
	@$(DEVSTACK) infra-up

infra-down: ## stop only Redis and PostgreSQL
	@$(DEVSTACK) infra-down
