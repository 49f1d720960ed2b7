# FinAssist Rasa server image: Rasa's own image plus our model, our custom components
# (addons/) and the capability modules they import (actions.pii, actions.risk,
# actions.settings, actions.log_masking, ...).
#
# Build from the project root (the context must be the root; BuildKit then uses
# deploy/docker/rasa.Dockerfile.dockerignore, a whitelist, instead of a root .dockerignore):
#
#   make train    # or `make test`: ship exactly the model that passed the quality gates
#   DOCKER_BUILDKIT=1 docker build -f deploy/docker/rasa.Dockerfile \
#       -t registry.bank.example/finassist/rasa:$(git rev-parse --short HEAD) .
#
# The tag below must match `rasa[...]==` in requirements.txt (tests/unit/test_deploy.py
# checks it). "-full" is the variant built with Rasa's "full" extras (spaCy,
# transformers, jieba); see RasaHQ/rasa docker/docker-bake.hcl, target "full".
FROM rasa/rasa:3.6.21-full

# Rasa's image runs as uid 1001 with /opt/venv on PATH; installing needs root.
USER root

# Runtime settings that never differ between clusters. Secrets and hosts come from the
# Helm values (deploy/helm/values-rasa.yaml), never from the image.
ENV PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false \
    FINASSIST_ENV=production \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /app

# Our pins that Rasa's image lacks or has in another version. They are taken from
# requirements.txt by name, so the versions are written in one place only; the build
# fails if one of them is missing there. python-socketio must stay 5.8.0: with newer
# releases Rasa 3.6's socket.io channel never joins the session room (see
# requirements.txt).
COPY requirements.txt /tmp/requirements.txt
RUN set -eu; \
    grep -E '^(jieba|rank-bm25|psycopg2-binary|PyJWT|httpx|SQLAlchemy|python-socketio)==' \
      /tmp/requirements.txt > /tmp/rasa-extra.txt; \
    test "$(wc -l < /tmp/rasa-extra.txt)" -eq 7; \
    pip install --no-cache-dir -r /tmp/rasa-extra.txt; \
    python -c "import importlib.metadata as m; \
assert m.version('rasa') == '3.6.21', m.version('rasa'); \
assert m.version('python-socketio') == '5.8.0', m.version('python-socketio')"; \
    rm /tmp/requirements.txt /tmp/rasa-extra.txt

# Project files the server reads. endpoints/credentials go to /app/runtime/ because the
# Rasa Helm chart mounts its own ConfigMap over /app/endpoints.yml and
# /app/credentials.yml (charts/rasa/templates/_containers-volumes.yaml); the values pass
# --endpoints/--credentials pointing here, so the app's own files are the only ones used.
COPY --chown=1001:0 config.yml domain.yml ./
COPY --chown=1001:0 addons/ ./addons/
COPY --chown=1001:0 actions/ ./actions/
COPY --chown=1001:0 endpoints.yml endpoints.production.yml credentials.yml ./runtime/
COPY --chown=1001:0 models/finassist.tar.gz ./models/finassist.tar.gz

# Fail the build, not the pod, when a custom component cannot be imported here: every
# module of addons/ (NLU components, guarded channels, masking tracker store and event
# broker) and what they import from actions/.
RUN python -c "import importlib, pkgutil, addons; \
[importlib.import_module('addons.' + m.name) for m in pkgutil.iter_modules(addons.__path__)]"

USER 1001

# ENTRYPOINT stays ["rasa"] from the base image. This default serves the channels only:
# the HTTP API needs --enable-api --auth-token $(RASA_API_TOKEN), which the Helm values
# add (an exec-form CMD cannot read the token from the environment).
EXPOSE 5005
CMD ["run", "--model", "/app/models/finassist.tar.gz", \
     "--endpoints", "/app/runtime/endpoints.production.yml", \
     "--credentials", "/app/runtime/credentials.yml", "--port", "5005"]
