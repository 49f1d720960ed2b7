# FinAssist developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/finassist.tar.gz
# Files under data/ that no model is trained on (risk dev set, experiments) are left out.
TRAINING_INPUTS := config.yml domain.yml $(filter-out data/experiments.yml data/risk/%,\
  $(shell find data addons -type f -not -path '*/__pycache__/*' 2>/dev/null))

# Local settings (copy .env.example to .env); the environment still wins over defaults.
ifneq (,$(wildcard .env))
include .env
export
endif

# Rasa must never phone home from a bank: telemetry and error reports off everywhere.
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONWARNINGS := ignore::DeprecationWarning
# Read by endpoints.yml and credentials.yml (which only hold ${VAR} placeholders).
export RASA_PORT ?= 5005
export ACTIONS_PORT ?= 5055
export ACTION_SERVER_URL ?= http://127.0.0.1:$(ACTIONS_PORT)/webhook
export TRACKER_DB_URL ?= sqlite:///$(CURDIR)/trackers.db
# Shared secret between the Rasa server and the action server (endpoints.yml sends it,
# actions/server.py checks it). Unset: a random one is made once and kept, git-ignored,
# in .secrets/ so that `make run` and `make shell` in two terminals agree.
ifeq ($(strip $(ACTION_SERVER_TOKEN)),)
ACTION_SERVER_TOKEN := $(shell mkdir -p .secrets && chmod 700 .secrets && \
  { test -s .secrets/action_server_token || \
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .secrets/action_server_token); } && \
  cat .secrets/action_server_token)
endif
export ACTION_SERVER_TOKEN
# Read by endpoints.production.yml only (FINASSIST_ENV=production): the shared stores
# of several Rasa replicas. Hosts default to this machine; credentials have no default
# (put them in .env or the deployment's secrets).
export REDIS_HOST ?= 127.0.0.1
export REDIS_PORT ?= 6379
export REDIS_PASSWORD ?=
export REDIS_DB ?= 1
export RABBITMQ_HOST ?= 127.0.0.1
export RABBITMQ_PORT ?= 5672
export RABBITMQ_USER ?=
export RABBITMQ_PASSWORD ?=
export RABBITMQ_QUEUE ?= finassist_events
CUSTOMER ?= C001
# `rasa shell` runs its own Rasa server next to the one `make run` started.
SHELL_PORT ?= 5006

.PHONY: help install train model seed token erase run run-actions run-rasa shell test lint desk webchat \
        validate pytest test-integration rasa-test risk-eval audit-deps report bench bench-fallback clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

install: ## create .venv (Python 3.10) and install pinned requirements; idempotent
	@bash scripts/install.sh

$(MODEL): $(TRAINING_INPUTS) | install
	$(RASA) train --fixed-model-name finassist --out models

model: $(MODEL) ## train only if the model is missing or older than the data

train: install ## train the model (Rasa reuses its cache for unchanged parts)
	$(RASA) train --fixed-model-name finassist --out models

seed: install ## create the schema (Alembic) and the demo customers in DATABASE_URL
	$(PY) scripts/seed_profiles.py

token: install ## print a signed login token: make token CUSTOMER=C001
	@$(PY) scripts/issue_token.py $(CUSTOMER)

# Irreversible, so the C001 default above is never used: the id must be on the command line.
erase: install ## erase a customer's personal data, keep the ledger: make erase CUSTOMER=C002 [YES=1]
	@test "$(origin CUSTOMER)" = "command line" || { echo "erase: name the customer on the command line: make erase CUSTOMER=<id>"; exit 2; }
	@$(PY) scripts/erase_customer.py $(if $(YES),--yes) "$(CUSTOMER)"

run: install model seed ## everything: install, train if stale, seed, start the servers, desk and web chat
	@bash scripts/run.sh

desk: install seed ## the agent desk alone (AGENT_DESK_PORT, AGENT_DESK_TOKEN)
	@test -n "$$AGENT_DESK_TOKEN" || { echo "desk: set AGENT_DESK_TOKEN (and RASA_API_TOKEN of the running Rasa server)"; exit 1; }
	$(PY) -m desk

webchat: install seed ## the customers' web chat page alone (WEBCHAT_PORT, default 8080)
	@test -f webchat/node_modules/socket.io-client/dist/socket.io.min.js || \
	  { echo "webchat: install Node.js 18+ and run make install (socket.io-client)"; exit 1; }
	$(PY) -m webchat

run-actions: install ## the action server alone (loopback, shared secret)
	$(PY) -m actions.server --port $(ACTIONS_PORT)

shell: install model ## rasa shell against the running action server, as CUSTOMER (default C001)
	$(RASA) shell --model $(MODEL) --endpoints endpoints.yml --port $(SHELL_PORT) \
	  --conversation-id "$$($(PY) scripts/issue_token.py $(CUSTOMER))"

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

validate: install ## rasa data validate
	$(RASA) data validate --fail-on-warnings

pytest: install ## unit tests (+ PostgreSQL/live-server tests when they can run here)
	$(PY) -m pytest

rasa-test: install model ## rasa test (held-out NLU, stories), emotion F1, retrieval hit@3, with floors
	rm -rf results
	$(RASA) test --model $(MODEL) --stories tests/stories --nlu tests/evaluation/nlu_holdout.yml \
	  --out results --successes --no-plot
	$(PY) scripts/check_rasa_results.py results
	$(PY) scripts/check_emotion.py $(MODEL)
	$(PY) scripts/check_retrieval.py

risk-eval: install ## precision/recall of the risk rules per language, with floors
	$(PY) scripts/check_risk.py

audit-deps: install ## known vulnerabilities in the installed packages, against the reviewed allow-list
	$(PY) scripts/audit_dependencies.py --allowlist security/audit-allowlist.yml \
	  --snapshot security/advisories-snapshot.json

test: install lint audit-deps validate model pytest risk-eval rasa-test ## everything CI runs

report: install ## service metrics + A/B results -> reports/report.html (DEMO=N simulated chats, SINCE=YYYY-MM-DD)
	$(PY) scripts/report.py $(if $(DEMO),--seed-demo $(DEMO)) $(if $(SINCE),--since $(SINCE))

bench: install model ## load benchmark vs a bare rasa init bot (not part of make test)
	$(PY) bench/load.py

bench-fallback: install ## latency of a fallback turn against a local LLM server
	$(PY) bench/fallback_latency.py

clean: ## remove trained models, results and caches (not .venv)
	rm -rf models/*.tar.gz results .pytest_cache .ruff_cache .rasa
