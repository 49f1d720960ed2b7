"""The Kubernetes deployment in deploy/ (Rasa's Helm charts, images, manifests).

Static checks only: no cluster, Helm or Docker is needed (a `helm template` check runs
only where `helm` is installed and can fetch the charts). They read the YAML with
`yaml.safe_load_all` and compare it with what FinAssist itself reads: the `${VAR}`
placeholders of endpoints*.yml and credentials.yml, the variables of
actions/settings.py, and the pins in requirements.txt.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
HELM = DEPLOY / "helm"
RASA_VALUES = HELM / "values-rasa.yaml"
ACTION_VALUES = HELM / "values-action-server.yaml"
SECRETS_EXAMPLE = HELM / "secrets.example.yaml"
NETWORK_POLICY = DEPLOY / "k8s" / "networkpolicy.yaml"
INGRESS = DEPLOY / "k8s" / "ingress.yaml"
PDB = DEPLOY / "k8s" / "pdb.yaml"
MIGRATE_JOB = DEPLOY / "k8s" / "migrate-job.yaml"
RASA_DOCKERFILE = DEPLOY / "docker" / "rasa.Dockerfile"
ACTIONS_DOCKERFILE = DEPLOY / "docker" / "actions.Dockerfile"
CONSTRAINTS = DEPLOY / "docker" / "constraints-actions.txt"
SECRET_NAME = "finassist-secrets"
# Release names from deploy/README.md: the charts name the Services after them.
RASA_SERVICE = "finassist-rasa"
ACTION_SERVICE = "finassist-rasa-action-server"

# A placeholder, or a reference resolved at run time (endpoints ${VAR}, k8s $(VAR)).
PLACEHOLDER = re.compile(r"<[^<>]+>|\$\{[A-Za-z0-9_]+\}|\$\([A-Za-z0-9_]+\)")
DEFAULT_PASSWORDS = frozenset(
    {
        "password",
        "passw0rd",
        "changeme",
        "change-me",
        "change_me",
        "guest",
        "secret",
        "admin",
        "default",
        "letmein",
        "123456",
        "rasatoken",
        "rasaxtoken",
        "redis-password",
        "erlangcookie",
        "jwtsecret",
    }
)
SENSITIVE_KEY_ENDINGS = ("password", "passwd", "secret", "token", "cookie", "apikey")
SECRET_ENV = re.compile(
    r"(TOKEN|PASSWORD|SECRET|API_KEY)$|^(DATABASE_URL|TRACKER_DB_URL)$"
)
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://([^/:@\s]+):(.+?)@")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Variables Rasa itself (not FinAssist) reads in the Rasa server pods.
RASA_RUNTIME_ENV = frozenset(
    {
        "SANIC_WORKERS",
        "LOG_LEVEL",
        "LOG_LEVEL_LIBRARIES",
        "TF_INTRA_OP_PARALLELISM_THREADS",
        "TF_INTER_OP_PARALLELISM_THREADS",
        "RASA_TELEMETRY_ENABLED",
    }
)
# What the action server cannot run without in production (actions/settings.py).
ACTION_SERVER_REQUIRED = frozenset(
    {"FINASSIST_ENV", "FINASSIST_JWT_SECRET", "ACTION_SERVER_TOKEN", "DATABASE_URL"}
)
# The pins the Rasa image must add to rasa/rasa (the brief of issue 7).
RASA_IMAGE_EXTRAS = frozenset(
    {"jieba", "rank-bm25", "psycopg2-binary", "PyJWT", "httpx", "python-socketio"}
)


# ---------------------------------------------------------------- helpers


def load_docs(path: Path) -> list[Any]:
    """Every document of a YAML file (empty documents dropped)."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_one(path: Path) -> dict[str, Any]:
    docs = load_docs(path)
    assert len(docs) == 1, f"{path} should hold one document"
    return docs[0]


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


def walk(
    node: Any, path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, scalar) for every scalar under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))
    else:
        yield path, node


def dicts(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping under ``node`` (itself included)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from dicts(value)


def env_entries(node: Any) -> list[dict[str, Any]]:
    """Container env entries (``{name, value}`` or ``{name, valueFrom}``) in ``node``."""
    return [
        d
        for d in dicts(node)
        if isinstance(d.get("name"), str)
        and re.fullmatch(r"[A-Z_][A-Z0-9_]*", d["name"])
        and ("value" in d or "valueFrom" in d)
    ]


def env_names(values: dict[str, Any]) -> set[str]:
    return {entry["name"] for entry in values.get("extraEnv", [])}


def env_value(values: dict[str, Any], name: str) -> Any:
    for entry in values.get("extraEnv", []):
        if entry["name"] == name:
            return entry.get("value")
    raise KeyError(name)


def secret_example() -> dict[str, str]:
    docs = [d for d in load_docs(SECRETS_EXAMPLE) if d.get("kind") == "Secret"]
    assert [d["metadata"]["name"] for d in docs] == [SECRET_NAME]
    return {**docs[0].get("stringData", {}), **docs[0].get("data", {})}


def synthetic_secret(key: str) -> str:
    """A value of the kind an operator would generate for a Secret key."""
    if key == "DATABASE_URL":
        return f"postgresql+psycopg2://app:{secrets.token_hex(8)}@pg:5432/finassist"
    if key == "TRACKER_DB_URL":
        return f"postgresql://tracker:{secrets.token_hex(8)}@pg:5432/trackers"
    if key == "SOCKETIO_REDIS_URL":
        return f"redis://:{secrets.token_hex(8)}@redis:6379/2"
    return secrets.token_hex(32)


def container_env(entries: list[dict[str, Any]]) -> dict[str, str]:
    """The environment a container gets, Secret references filled with generated values."""
    env: dict[str, str] = {}
    for entry in entries:
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            if ref.get("optional"):
                continue
            env[entry["name"]] = synthetic_secret(ref["key"])
    return env


def requirement_pins() -> dict[str, str]:
    """requirements.txt as {normalised name: version}; extras dropped."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if match:
            pins[normalise(match.group(1))] = match.group(2)
    return pins


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = pending + raw
        pending = ""
        keyword, _, rest = line.strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def copy_sources(path: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY without --from."""
    copies = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword != "COPY":
            continue
        parts = [p for p in rest.split() if not p.startswith("--chown")]
        assert not any(p.startswith("--from") for p in parts), rest
        copies.append((parts[:-1], parts[-1]))
    return copies


def cpu(quantity: Any) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory(quantity: Any) -> float:
    text = str(quantity)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "").isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text)


@pytest.fixture(scope="module")
def rasa_values() -> dict[str, Any]:
    return load_one(RASA_VALUES)


@pytest.fixture(scope="module")
def action_values() -> dict[str, Any]:
    return load_one(ACTION_VALUES)


# ---------------------------------------------------------------- files and secrets


def test_every_yaml_file_in_deploy_parses() -> None:
    files = yaml_files()
    expected = {
        RASA_VALUES,
        ACTION_VALUES,
        SECRETS_EXAMPLE,
        NETWORK_POLICY,
        INGRESS,
        PDB,
        MIGRATE_JOB,
    }
    assert expected <= set(files)
    for path in files:
        assert load_docs(path), f"{path} is empty"


def test_no_default_password_or_literal_secret_anywhere() -> None:
    problems = []
    for path in yaml_files():
        for doc in load_docs(path):
            for where, value in walk(doc):
                if not isinstance(value, str) or not value.strip():
                    continue
                key = where[-1] if where else ""
                lowered = value.strip().lower()
                if key != "kind" and lowered in DEFAULT_PASSWORDS:
                    problems.append((path.name, where, value))
                flat_key = re.sub(r"[-_.]", "", str(key)).lower()
                if flat_key.endswith(SENSITIVE_KEY_ENDINGS) and not PLACEHOLDER.search(
                    value
                ):
                    problems.append((path.name, where, value))
                for match in URL_CREDENTIALS.finditer(value):
                    if not PLACEHOLDER.fullmatch(match.group(2)):
                        problems.append((path.name, where, "password in a URL"))
    assert problems == []


def test_dockerfiles_hold_no_secrets() -> None:
    for path in (RASA_DOCKERFILE, ACTIONS_DOCKERFILE):
        for keyword, rest in dockerfile_instructions(path):
            if keyword in {"ENV", "ARG"}:
                for name in re.findall(r"([A-Z_][A-Z0-9_]*)=", rest):
                    assert not SECRET_ENV.search(name), (path.name, name)
            assert not URL_CREDENTIALS.search(rest), (path.name, rest)


def test_secret_variables_come_from_the_secret() -> None:
    entries = [
        (path.name, entry)
        for path in yaml_files()
        for doc in load_docs(path)
        for entry in env_entries(doc)
    ]
    assert entries
    for source, entry in entries:
        if SECRET_ENV.search(entry["name"]):
            assert "value" not in entry, (source, entry["name"])
            assert "secretKeyRef" in entry["valueFrom"], (source, entry["name"])


def test_every_secret_reference_exists_in_the_example_secret() -> None:
    keys = secret_example()
    refs = [
        d["secretKeyRef"]
        for path in yaml_files()
        for doc in load_docs(path)
        for d in dicts(doc)
        if isinstance(d.get("secretKeyRef"), dict)
    ]
    assert refs
    for ref in refs:
        assert ref["name"] == SECRET_NAME, ref
        assert ref["key"] in keys or ref.get("optional") is True, ref
    # and nothing in the example Secret is unused
    assert set(keys) <= {ref["key"] for ref in refs}


def test_example_secret_holds_placeholders_only() -> None:
    values = secret_example()
    assert values
    for key, value in values.items():
        assert PLACEHOLDER.search(str(value)), (key, value)
        assert "<generate" in value or "<from" in value, (key, value)
    text = SECRETS_EXAMPLE.read_text(encoding="utf-8")
    assert "openssl rand" in text  # says how to generate them


# ---------------------------------------------------------------- probes, resources


@pytest.mark.parametrize("path", [RASA_VALUES, ACTION_VALUES], ids=["rasa", "actions"])
def test_probes_resources_and_replicas(path: Path) -> None:
    values = load_one(path)
    for probe_name in ("livenessProbe", "readinessProbe"):
        probe = values[probe_name]
        handlers = [
            h
            for h in ("httpGet", "exec", "tcpSocket", "grpc")
            if probe.get(h) is not None
        ]
        assert len(handlers) == 1, (probe_name, handlers)
        assert probe["periodSeconds"] > 0 and probe["failureThreshold"] >= 3
    resources = values["resources"]
    assert cpu(resources["requests"]["cpu"]) <= cpu(resources["limits"]["cpu"])
    assert memory(resources["requests"]["memory"]) <= memory(
        resources["limits"]["memory"]
    )
    assert values["replicaCount"] >= 2
    assert values["autoscaling"]["minReplicas"] >= 2
    assert values["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_rasa_probes_and_size(rasa_values: dict[str, Any]) -> None:
    liveness = rasa_values["livenessProbe"]["httpGet"]
    assert liveness["path"] == "/" and liveness["port"] == "http"
    # readiness asks /status with the API token from the container's environment
    readiness = rasa_values["readinessProbe"]
    # `httpGet: null` removes the chart's default handler from the merged values
    assert "httpGet" in readiness and readiness["httpGet"] is None
    command = readiness["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    compile(command[2], "<readinessProbe>", "exec")
    assert "/status?token=" in command[2] and "RASA_API_TOKEN" in command[2]
    assert f":{rasa_values['applicationSettings']['port']}/" in command[2]
    # the model loads before Sanic serves: liveness waits for it
    assert rasa_values["livenessProbe"]["initialDelaySeconds"] >= 60
    # CPU inference: 1-2 CPUs, 2-3 GiB with two Sanic workers
    resources = rasa_values["resources"]
    assert (
        1 <= cpu(resources["requests"]["cpu"]) <= cpu(resources["limits"]["cpu"]) <= 2
    )
    assert 2 * 2**30 <= memory(resources["limits"]["memory"]) <= 3 * 2**30


def test_action_server_probes_use_health(action_values: dict[str, Any]) -> None:
    for probe_name in ("livenessProbe", "readinessProbe"):
        assert action_values[probe_name]["httpGet"]["path"] == "/health"
        assert action_values[probe_name]["httpGet"]["port"] == "http"
    server = (ROOT / "actions" / "server.py").read_text(encoding="utf-8")
    assert 'OPEN_PATHS = frozenset({"/health"})' in server  # open without the token


# ---------------------------------------------------------------- environment


def endpoint_variables() -> set[str]:
    names: set[str] = set()
    for name in ("endpoints.yml", "endpoints.production.yml", "credentials.yml"):
        path = ROOT / name
        if path.exists():
            names |= set(ENV_REF.findall(path.read_text(encoding="utf-8")))
    return names


def settings_variables() -> set[str]:
    text = (ROOT / "actions" / "settings.py").read_text(encoding="utf-8")
    # env.get("NAME", ...) and the helpers called as helper(env, "NAME", ...)
    return set(re.findall(r"env(?:\.get\(|,)\s*\"([A-Z0-9_]+)\"", text))


def test_rasa_server_gets_every_variable_its_config_files_read(
    rasa_values: dict[str, Any],
) -> None:
    needed = endpoint_variables()
    assert {"ACTION_SERVER_URL", "ACTION_SERVER_TOKEN", "TRACKER_DB_URL"} <= needed
    assert needed - env_names(rasa_values) == set()


def test_action_server_gets_what_it_needs_in_production(
    action_values: dict[str, Any],
) -> None:
    assert ACTION_SERVER_REQUIRED <= settings_variables()
    assert ACTION_SERVER_REQUIRED <= env_names(action_values)
    env = container_env(action_values["extraEnv"])
    settings = Settings.from_env(env)
    assert settings.is_production
    assert not settings.shell_identity and not settings.demo_login
    assert settings.database_url.startswith("postgresql")
    port = action_values["applicationSettings"]["port"]
    assert settings.actions_port == port == action_values["service"]["port"]
    # without its secrets it refuses to run: they are really required
    for name in ("FINASSIST_JWT_SECRET", "ACTION_SERVER_TOKEN"):
        with pytest.raises(SettingsError):
            Settings.from_env({k: v for k, v in env.items() if k != name})


def test_migration_job_environment_is_accepted() -> None:
    (job,) = load_docs(MIGRATE_JOB)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["alembic", "upgrade", "head"]
    settings = Settings.from_env(container_env(container["env"]))
    assert settings.is_production and settings.database_url.startswith("postgresql")


def test_every_variable_set_is_one_finassist_or_rasa_reads(
    rasa_values: dict[str, Any], action_values: dict[str, Any]
) -> None:
    emotion = (ROOT / "addons" / "emotion.py").read_text(encoding="utf-8")
    known = (
        settings_variables()
        | endpoint_variables()
        | RASA_RUNTIME_ENV
        | set(re.findall(r"\b(FINASSIST_[A-Z_]+)\b", emotion))
    )
    for values in (rasa_values, action_values):
        assert env_names(values) - known == set()


def test_production_is_selected_by_the_environment(
    rasa_values: dict[str, Any], action_values: dict[str, Any]
) -> None:
    for values in (rasa_values, action_values):
        assert env_value(values, "FINASSIST_ENV") == "production"
    args = rasa_values["args"]
    assert args[0] == "run" and "--enable-api" in args
    assert args[args.index("--auth-token") + 1] == "$(RASA_API_TOKEN)"
    (token_ref,) = [e for e in rasa_values["extraEnv"] if e["name"] == "RASA_API_TOKEN"]
    assert token_ref["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME
    assert args[args.index("--cors") + 1] != "*"
    # the production endpoints and the app's credentials, as copied into the image
    copied = {
        f"{dest.rstrip('/')}/{Path(src).name}" if dest.endswith("/") else dest
        for sources, dest in copy_sources(RASA_DOCKERFILE)
        for src in sources
    }
    for flag, expected in (
        ("--endpoints", "endpoints.production.yml"),
        ("--credentials", "credentials.yml"),
        ("--model", "finassist.tar.gz"),
    ):
        target = args[args.index(flag) + 1]
        assert Path(target).name == expected
        assert target.replace("/app/", "./", 1) in copied, target
    # the chart must not mount its own endpoints over ours, nor download a model
    settings = rasa_values["applicationSettings"]
    assert settings["initialModel"] == "" and not settings["trainInitialModel"]
    assert not settings["credentials"]["enabled"]
    for endpoint in ("models", "trackerStore", "lockStore", "eventBroker"):
        assert not settings["endpoints"][endpoint]["enabled"], endpoint


def test_production_endpoints_render_with_the_values(
    rasa_values: dict[str, Any], action_values: dict[str, Any]
) -> None:
    path = ROOT / "endpoints.production.yml"
    if not path.exists():
        pytest.skip("endpoints.production.yml is not in this checkout")
    env = container_env(rasa_values["extraEnv"])
    text = path.read_text(encoding="utf-8")
    missing = set(ENV_REF.findall(text)) - set(env)
    assert missing == set()
    endpoints = yaml.safe_load(ENV_REF.sub(lambda m: env[m.group(1)], text))
    assert endpoints["tracker_store"]["type"].endswith("MaskingSQLTrackerStore")
    assert endpoints["tracker_store"]["url"].startswith("postgresql")
    # several Sanic workers are allowed only with a lock store shared across processes
    assert endpoints["lock_store"]["type"] not in (None, "in_memory")
    assert int(env_value(rasa_values, "SANIC_WORKERS")) >= 2
    assert endpoints["event_broker"]["url"] == env_value(rasa_values, "RABBITMQ_HOST")
    action = endpoints["action_endpoint"]
    assert action["headers"]["Authorization"] == f"Bearer {env['ACTION_SERVER_TOKEN']}"
    port = action_values["service"]["port"]
    assert action["url"] == f"http://{ACTION_SERVICE}:{port}/webhook"


# ---------------------------------------------------------------- images


def test_dockerfiles_pin_the_versions_of_requirements_txt() -> None:
    pins = requirement_pins()
    rasa_from = [r for k, r in dockerfile_instructions(RASA_DOCKERFILE) if k == "FROM"]
    sdk_from = [
        r for k, r in dockerfile_instructions(ACTIONS_DOCKERFILE) if k == "FROM"
    ]
    assert rasa_from == [f"rasa/rasa:{pins['rasa']}-full"]
    assert sdk_from == [f"rasa/rasa-sdk:{pins['rasa-sdk']}"]
    rasa_text = RASA_DOCKERFILE.read_text(encoding="utf-8")
    sdk_text = ACTIONS_DOCKERFILE.read_text(encoding="utf-8")
    assert f"m.version('rasa') == '{pins['rasa']}'" in rasa_text
    assert f"m.version('rasa-sdk') == '{pins['rasa-sdk']}'" in sdk_text


def test_rasa_image_adds_our_pins_from_requirements_txt() -> None:
    text = RASA_DOCKERFILE.read_text(encoding="utf-8")
    match = re.search(r"grep -E '\^\(([^)]+)\)=='", text)
    assert match, "the Rasa image takes its extra pins from requirements.txt"
    names = match.group(1).split("|")
    count = re.search(r'test "\$\(wc -l < [^)]+\)" -eq (\d+)', text)
    assert count and int(count.group(1)) == len(names)
    pins = requirement_pins()
    assert {normalise(n) for n in RASA_IMAGE_EXTRAS} <= {normalise(n) for n in names}
    for name in names:
        assert normalise(name) in pins, f"{name} is not pinned in requirements.txt"
    assert pins["python-socketio"] == "5.8.0"
    assert f"m.version('python-socketio') == '{pins['python-socketio']}'" in text


def test_action_image_constraints_agree_with_requirements_txt() -> None:
    constraints = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            constraints[normalise(name)] = version
    pins = requirement_pins()
    for name, version in pins.items():
        if name in constraints:
            assert constraints[name] == version, name
    for name in ("rasa-sdk", "spacy", "numpy", "pyyaml", "sqlalchemy", "jieba"):
        assert name in constraints, name
    assert "rasa" not in constraints  # the Rasa server is the other image


@pytest.mark.parametrize("path", [RASA_DOCKERFILE, ACTIONS_DOCKERFILE])
def test_images_run_as_non_root_with_telemetry_off(path: Path) -> None:
    instructions = dockerfile_instructions(path)
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert "RASA_TELEMETRY_ENABLED=false" in env
    assert "PYTHONPATH=/app" in env
    assert "FINASSIST_ENV=production" in env
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users[-1] == "1001"


def test_action_image_starts_our_locked_down_server() -> None:
    instructions = dict(dockerfile_instructions(ACTIONS_DOCKERFILE))
    assert yaml.safe_load(instructions["ENTRYPOINT"]) == [
        "python",
        "-m",
        "actions.server",
    ]
    assert yaml.safe_load(instructions["CMD"]) == ["--host", "0.0.0.0"]


@pytest.mark.parametrize("path", [RASA_DOCKERFILE, ACTIONS_DOCKERFILE])
def test_image_sources_exist_and_pass_the_dockerignore(path: Path) -> None:
    ignore = path.with_name(path.name + ".dockerignore")
    rules = [
        line.strip()
        for line in ignore.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"  # a whitelist
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    for sources, _ in copy_sources(path):
        for source in sources:
            assert source.rstrip("/") in allowed, source
            if not source.startswith("models/"):  # trained, git-ignored
                assert (ROOT / source).exists(), source
    for private in (".env", ".secrets", "finassist.db", "trackers.db", "logs"):
        assert private not in allowed


def test_action_image_holds_the_data_files_the_actions_read() -> None:
    """Every file the action server opens at run time is copied into its image.

    The paths are the modules' own constants; tests/integration/test_images.py runs
    the server from the image's file set to catch a file not listed here.
    """
    from actions import entities, experiments, knowledge
    from actions.risk import detector, transfers

    needed = {
        experiments.EXPERIMENTS_PATH,
        knowledge.KNOWLEDGE_DIR,
        entities.DEFAULT_LEXICON,
        detector.RULES_FILE,
        transfers.RULES_FILE,
    }
    copied = [
        ROOT / source.rstrip("/")
        for sources, _ in copy_sources(ACTIONS_DOCKERFILE)
        for source in sources
    ]
    for path in needed:
        assert path.exists(), path
        assert any(path == c or c in path.parents for c in copied), (
            f"{path.relative_to(ROOT)} is read by the action server but not copied "
            "into deploy/docker/actions.Dockerfile"
        )


def test_telemetry_is_off_in_the_values(
    rasa_values: dict[str, Any], action_values: dict[str, Any]
) -> None:
    assert rasa_values["applicationSettings"]["telemetry"]["enabled"] is False
    for values in (rasa_values, action_values):
        for entry in values["extraEnv"]:
            if entry["name"] == "RASA_TELEMETRY_ENABLED":
                assert str(entry["value"]).lower() == "false"


def test_chart_defaults_with_well_known_passwords_are_overridden(
    rasa_values: dict[str, Any],
) -> None:
    settings = rasa_values["applicationSettings"]
    assert settings["token"] == "" and settings["rasaX"]["token"] == ""
    for sub in ("postgresql", "redis", "rabbitmq"):
        assert rasa_values[sub]["install"] is False
    assert rasa_values["redis"]["auth"]["password"] == ""
    assert rasa_values["rabbitmq"]["auth"]["password"] == ""
    assert rasa_values["rabbitmq"]["auth"]["erlangCookie"] == ""
    assert rasa_values["global"]["postgresql"]["postgresqlPassword"] == ""
    assert rasa_values["global"]["redis"]["password"] == ""


# ---------------------------------------------------------------- network


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    match = selector.get("matchLabels", {})
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def test_action_server_is_reachable_only_from_the_rasa_pods(
    rasa_values: dict[str, Any], action_values: dict[str, Any]
) -> None:
    assert action_values["service"]["type"] == "ClusterIP"
    assert action_values["ingress"]["enabled"] is False
    action_labels = action_values["podLabels"]
    rasa_labels = rasa_values["podLabels"]
    policies = [
        p
        for p in load_docs(NETWORK_POLICY)
        if p["kind"] == "NetworkPolicy"
        and selects(p["spec"]["podSelector"], action_labels)
    ]
    assert len(policies) == 1
    spec = policies[0]["spec"]
    assert "Ingress" in spec["policyTypes"]
    assert spec["ingress"]
    for rule in spec["ingress"]:
        assert rule["from"]
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, peer  # same namespace, no ipBlock
            assert selects(peer["podSelector"], rasa_labels)
            assert not selects(peer["podSelector"], action_labels)
        ports = {p["port"] for p in rule["ports"]}
        assert ports == {action_values["applicationSettings"]["port"]}


def test_ingress_publishes_only_the_channels_with_sticky_sessions(
    rasa_values: dict[str, Any],
) -> None:
    assert rasa_values["ingress"]["enabled"] is False  # ours, not the chart's
    (ingress,) = load_docs(INGRESS)
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert ingress["spec"]["tls"]
    paths = [
        path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    ]
    assert {p["path"] for p in paths} == {"/webhooks/rest/", "/socket.io"}
    for path in paths:
        assert path["backend"]["service"] == {
            "name": RASA_SERVICE,
            "port": {"name": "http"},
        }


def test_disruption_budgets_cover_both_servers(
    rasa_values: dict[str, Any], action_values: dict[str, Any]
) -> None:
    budgets = load_docs(PDB)
    for labels in (rasa_values["podLabels"], action_values["podLabels"]):
        assert any(
            selects(b["spec"]["selector"], labels) and b["spec"]["minAvailable"] >= 1
            for b in budgets
        )


# ---------------------------------------------------------------- optional: helm


CHARTS = [
    (RASA_SERVICE, "rasa/rasa", "1.17.3", RASA_VALUES),
    (ACTION_SERVICE, "rasa/rasa-action-server", "1.0.7", ACTION_VALUES),
]


@pytest.mark.skipif(shutil.which("helm") is None, reason="helm is not installed")
@pytest.mark.parametrize(("release", "chart", "version", "values"), CHARTS)
def test_helm_renders_the_values(
    release: str, chart: str, version: str, values: Path
) -> None:
    result = subprocess.run(
        ["helm", "template", release, chart, "--version", version, "-f", str(values)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 and re.search(
        r"repo|fetch|download|no such host|connection", result.stderr, re.I
    ):
        pytest.skip(f"chart not available here: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for c in containers for e in c.get("env", [])}
    assert "FINASSIST_ENV" in names
    assert deployment["spec"]["replicas"] >= 2
