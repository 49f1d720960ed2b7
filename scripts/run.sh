#!/usr/bin/env bash
# Start the action server, the Rasa server (REST + socket.io), the agent desk and the web
# chat page, and wait; Ctrl-C stops them all.
# Called by `make run` after install, train-if-stale and seed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p logs
if [ ! -f webchat/node_modules/socket.io-client/dist/socket.io.min.js ]; then
  echo "run: the web chat page needs its socket.io client: install Node.js 18+ and run make install" >&2
  exit 1
fi
: "${RASA_PORT:=5005}" "${ACTIONS_PORT:=5055}"
# The Rasa HTTP API (/status, /conversations, ...) is on, but only with this token; the
# agent desk uses it. Agents log in to the desk with AGENT_DESK_TOKEN.
random_token() { .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))'; }
: "${RASA_API_TOKEN:=$(random_token)}" "${AGENT_DESK_TOKEN:=$(random_token)}"
: "${COMPLIANCE_TOKEN:=$(random_token)}"
: "${AGENT_DESK_PORT:=5010}" "${WEBCHAT_PORT:=8080}"
export RASA_API_TOKEN AGENT_DESK_TOKEN COMPLIANCE_TOKEN AGENT_DESK_PORT WEBCHAT_PORT RASA_URL="http://127.0.0.1:$RASA_PORT"
export RASA_TELEMETRY_ENABLED=false PYTHONPATH="$PWD"
# The web page's demo login signs tokens for the demo customers: on for this local
# development run only (settings refuse it in production; it is off by default).
if [ "${FINASSIST_ENV:-dev}" != production ]; then
  export WEBCHAT_DEMO_LOGIN="${WEBCHAT_DEMO_LOGIN:-true}"
fi

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_for() {  # url seconds name
  for _ in $(seq "$2"); do
    if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "run: $3 did not become ready at $1; see logs/" >&2
  exit 1
}

# Loopback only, and every call must carry ACTION_SERVER_TOKEN (set by the Makefile).
: "${ACTION_SERVER_TOKEN:?set by make run}"
export ACTION_SERVER_TOKEN
.venv/bin/python -m actions.server --port "$ACTIONS_PORT" >logs/actions.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$ACTIONS_PORT/health" 60 "action server"

# Production (FINASSIST_ENV=production) shares conversations across replicas through
# PostgreSQL, Redis and RabbitMQ (endpoints.production.yml); SANIC_WORKERS > 1 needs it.
# Each Sanic worker then gets one TensorFlow thread pool of one thread: with several
# workers on few cores, larger pools only compete (make bench: -16 % CPU per turn).
if [ "${FINASSIST_ENV:-dev}" = production ]; then
  : "${RASA_ENDPOINTS:=endpoints.production.yml}"
  export TF_INTRA_OP_PARALLELISM_THREADS="${TF_INTRA_OP_PARALLELISM_THREADS:-1}"
  export TF_INTER_OP_PARALLELISM_THREADS="${TF_INTER_OP_PARALLELISM_THREADS:-1}"
fi
.venv/bin/rasa run --model models/finassist.tar.gz --endpoints "${RASA_ENDPOINTS:-endpoints.yml}" \
  --credentials credentials.yml --port "$RASA_PORT" --cors "*" \
  --enable-api --auth-token "$RASA_API_TOKEN" >logs/rasa.log 2>&1 &
pids+=($!)
# /status answers 200 only once the model is loaded (a failed load still answers 409).
wait_for "http://127.0.0.1:$RASA_PORT/status?token=$RASA_API_TOKEN" 180 "Rasa server"
.venv/bin/python -m desk >logs/desk.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$AGENT_DESK_PORT/" 60 "agent desk"
.venv/bin/python -m webchat >logs/webchat.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$WEBCHAT_PORT/api/config" 60 "web chat page"
token=$(.venv/bin/python scripts/issue_token.py C001)
cat <<MSG

FinAssist is running.
  Rasa server    http://127.0.0.1:$RASA_PORT   (REST: /webhooks/rest/webhook, socket.io: /socket.io)
  Action server  http://127.0.0.1:$ACTIONS_PORT
  Web chat       http://127.0.0.1:$WEBCHAT_PORT   (customers; log in as a demo customer)
  Agent desk     http://127.0.0.1:$AGENT_DESK_PORT   (agent token: $AGENT_DESK_TOKEN)
                 risk-alert reviews also need the compliance token: $COMPLIANCE_TOKEN
  Logs           logs/rasa.log, logs/actions.log, logs/desk.log, logs/webchat.log

Chat as demo customer C001 (李明) over REST:
  curl -s http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook -H 'Content-Type: application/json' \\
    -d '{"sender": "demo-1", "message": "查一下余额", "metadata": {"auth_token": "$token"}}'
Other customers: make token CUSTOMER=C002 (English) or C003.  Testers: make shell CUSTOMER=C002
Ctrl-C stops them all.
MSG
wait -n "${pids[@]}"
