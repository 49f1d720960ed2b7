#!/usr/bin/env bash
# Create .venv with Python 3.10 and install FinAssist's pinned requirements, then the
# web chat page's browser client (webchat/, npm).
# Idempotent: re-running with unchanged requirements and package-lock.json does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys' 2>/dev/null; then
    command -v python3.10; return
  fi
  local root
  if command -v pyenv >/dev/null 2>&1; then root=$(pyenv root); else root="${PYENV_ROOT:-$HOME/.pyenv}"; fi
  for p in "$root"/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    if [ -x "$p" ]; then echo "$p"; return; fi
  done
}

# The web chat page serves socket.io-client from webchat/node_modules (no CDN).
install_webchat() {
  local client=webchat/node_modules/socket.io-client/dist/socket.io.min.js
  local npm_stamp=webchat/node_modules/.finassist-installed
  if [ -f "$client" ] && [ -f "$npm_stamp" ] && [ ! webchat/package-lock.json -nt "$npm_stamp" ]; then
    echo "install: webchat/node_modules is up to date"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    # Everything but the web page works without Node; `make run` / `make webchat` stop
    # with this same advice, and the page's browser test is skipped with a reason.
    cat >&2 <<'MSG'
install: npm not found, so the web chat page's socket.io client is not installed.
Install Node.js 18 or newer (for example `apt-get install nodejs npm`) and run
`make install` again to use the web chat page.
MSG
    return 0
  fi
  echo "install: installing the web chat client (npm ci in webchat/)"
  (cd webchat && npm ci --omit=dev --no-audit --no-fund)
  touch "$npm_stamp"
}

stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt scripts/install.sh | sha256sum | cut -c1-16)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install: .venv is up to date"
  install_webchat
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  py=$(find_python || true)
  if [ -z "$py" ]; then
    cat >&2 <<'MSG'
install: no Python 3.10 found.
Rasa Open Source 3.6 runs on Python 3.8-3.10 only. Install Python 3.10 (for example
`pyenv install 3.10.13`) or point PYTHON at one: `make install PYTHON=/path/to/python3.10`.
MSG
    exit 1
  fi
  version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ "$version" != "3.10" ]; then
    echo "install: $py is Python $version; FinAssist needs Python 3.10 (Rasa 3.6)." >&2
    exit 1
  fi
  echo "install: creating .venv with $py"
  "$py" -m venv .venv
fi
# pip's cache (~/.cache/pip) is reused between runs, so CI reinstalls from local wheels.
.venv/bin/python -m pip install --quiet --upgrade "pip>=26.1.2" wheel
.venv/bin/python -m pip install --quiet -r requirements-dev.txt
echo "$want" > "$stamp"
echo "install: done ($(.venv/bin/rasa --version 2>/dev/null | grep -m1 'Rasa Version' || echo rasa installed))"
install_webchat
