# FinAssist action-server image: Rasa's SDK image plus our actions package, the data it
# reads at run time (risk rules, lexicon, knowledge base, A/B experiments) and the
# Alembic migrations
# (the same image runs `alembic upgrade head` as a Job, deploy/k8s/migrate-job.yaml).
#
# Build from the project root (BuildKit uses deploy/docker/actions.Dockerfile.dockerignore,
# a whitelist, instead of a root .dockerignore):
#
#   DOCKER_BUILDKIT=1 docker build -f deploy/docker/actions.Dockerfile \
#       -t registry.bank.example/finassist/actions:$(git rev-parse --short HEAD) .
#
# The tag must match `rasa-sdk==` in requirements.txt (tests/unit/test_deploy.py).
FROM rasa/rasa-sdk:3.6.2

USER root

ENV PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false \
    FINASSIST_ENV=production \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    ACTIONS_PORT=5055

WORKDIR /app

# Our code is tested on Python 3.10 (str.removeprefix, zoneinfo, PEP 604 annotations).
RUN python -c "import sys; assert (3, 9) <= sys.version_info[:2] < (3, 11), sys.version"

# requirements.txt without Rasa itself (a separate image) and without python-socketio
# (the Rasa server's channel), plus spaCy/PyYAML/tzdata, all at the versions of the
# tested .venv (constraints-actions.txt). `pip check` fails the build on a conflict with
# what the base image already has.
COPY requirements.txt deploy/docker/requirements-actions.txt \
     deploy/docker/constraints-actions.txt /tmp/req/
RUN set -eu; \
    grep -vE '^(rasa\[|python-socketio)' /tmp/req/requirements.txt > /tmp/req/actions.txt; \
    pip install --no-cache-dir -r /tmp/req/actions.txt -r /tmp/req/requirements-actions.txt \
        -c /tmp/req/constraints-actions.txt; \
    pip check; \
    python -c "import importlib.metadata as m; \
assert m.version('rasa-sdk') == '3.6.2', m.version('rasa-sdk')"; \
    rm -rf /tmp/req

COPY --chown=1001:0 actions/ ./actions/
COPY --chown=1001:0 addons/lexicon.yml ./addons/lexicon.yml
COPY --chown=1001:0 data/knowledge/ ./data/knowledge/
COPY --chown=1001:0 data/experiments.yml ./data/experiments.yml
COPY --chown=1001:0 alembic.ini ./alembic.ini
COPY --chown=1001:0 migrations/ ./migrations/

# Fail the build, not the pod: rasa-sdk registers every module of the actions package at
# start-up, so import them all here, and load every data file the actions read (risk
# and transfer rules, A/B experiments, knowledge base, lexicon) and the time zone.
# tests/integration/test_images.py runs the servers from this image's file set.
RUN python -c "from rasa_sdk.executor import ActionExecutor; \
e = ActionExecutor(); e.register_package('actions'); assert e.actions, 'no actions'; \
from actions.risk.detector import default_detector; default_detector(); \
from actions.risk.transfers import default_limits; default_limits(); \
from actions.experiments import registry; registry(); \
from actions.knowledge import load_passages; assert load_passages(), 'no knowledge'; \
from actions.entities import EntityLexicon; EntityLexicon.from_file(); \
from zoneinfo import ZoneInfo; ZoneInfo('Asia/Shanghai')"

USER 1001

# actions/server.py: rasa-sdk's app behind the shared secret (ACTION_SERVER_TOKEN, it
# refuses to start without one; FINASSIST_ENV=production also requires
# FINASSIST_JWT_SECRET), /health open for the probes. It listens on ACTIONS_HOST
# (127.0.0.1 by default); in a pod it must listen on the pod's interface, hence
# --host 0.0.0.0: only the pod's own network namespace, reached through a ClusterIP
# Service that a NetworkPolicy opens to the Rasa pods alone (deploy/k8s/).
EXPOSE 5055
ENTRYPOINT ["python", "-m", "actions.server"]
CMD ["--host", "0.0.0.0"]
