"""The two images' file sets, run as the real servers, without Docker.

For each image (deploy/docker/rasa.Dockerfile, deploy/docker/actions.Dockerfile) the
Dockerfile's COPY/ADD instructions and its .dockerignore are read with Docker's rules
(BuildKit's Dockerfile-specific ignore file, `**`, `!` exceptions, last match wins;
flags, several sources, globs, directories, destinations, WORKDIR, ENV), the files
the image would hold are laid out in a temporary folder as in the image, and the
servers are started from those folders alone: the action server with
`python -m actions.server` and the Rasa server with the model, each with the image's
ENV, its working directory and PYTHONPATH in its folder, and no variable pointing
into the checkout. A conversation then goes through every action path that reads a
file (experiments, knowledge base, lexicon, risk rules): a file missing from an image
fails here rather than on the first distressed or not-understood turn in a pod.

The parser tests at the top run everywhere; the servers need the trained model.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pytest

from actions.profile_db.session import make_engine
from scripts.seed_profiles import migrate, seed
from tests.conftest import SECRET, token_for
from tests.integration.servers import (
    ACTION_SERVER_TOKEN,
    MODEL,
    RASA_API_TOKEN,
    free_port,
    wait_until_ready,
)

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
IMAGES = ("rasa.Dockerfile", "actions.Dockerfile")
VENV_BIN = Path(sys.executable).parent


# ------------------------------------------------------------------ .dockerignore


@dataclass(frozen=True)
class IgnorePattern:
    pattern: str
    exclusion: bool  # a `!` line: files it matches are let back in
    regex: re.Pattern[str]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation: `**` any depth, `*` `?` within a segment."""
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch in "[]":
            out += ch
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def parse_dockerignore(text: str) -> list[IgnorePattern]:
    """The patterns of a .dockerignore, normalised as Docker does (ignorefile.ReadAll).

    Comment lines start with `#`; each line is trimmed, cleaned like a path
    (`actions/` is `actions`), a leading `/` dropped; `!` marks an exception.
    """
    patterns = []
    for line in text.lstrip("\ufeff").splitlines():
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if line:
            line = posixpath.normpath(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(IgnorePattern(line, exclusion, _pattern_regex(line)))
    return patterns


def is_ignored(path: str, patterns: list[IgnorePattern]) -> bool:
    """PatternMatcher.MatchesOrParentMatches: the last pattern that matches the path
    or one of its parent folders decides; an exception is only tried on a path
    already excluded, a plain pattern only on one not yet excluded."""
    parents = path.split("/")[:-1]
    prefixes = ["/".join(parents[: i + 1]) for i in range(len(parents))]
    matched = False
    for pattern in patterns:
        if pattern.exclusion != matched:
            continue
        hit = bool(pattern.regex.match(path)) or any(
            pattern.regex.match(prefix) for prefix in prefixes
        )
        if hit:
            matched = not pattern.exclusion
    return matched


def build_context(context: Path, patterns: list[IgnorePattern]) -> dict[str, Path]:
    """The files the builder receives: context-relative POSIX path -> file."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(context):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(context).as_posix()
            if not is_ignored(rel, patterns):
                files[rel] = full
    return files


# ------------------------------------------------------------------ Dockerfile


@dataclass
class CopyStep:
    keyword: str  # COPY or ADD
    sources: list[str]
    destination: str  # absolute, in the image
    is_directory: bool  # the destination names a folder (trailing slash)
    flags: dict[str, str] = field(default_factory=dict)


def _logical_lines(text: str) -> list[str]:
    """Instructions with continuation lines joined, comments and blanks dropped,
    honouring a leading `# escape=` parser directive."""
    escape = "\\"
    lines = text.splitlines()
    for line in lines:
        directive = re.match(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$", line)
        if not directive:
            break
        if directive.group(1).lower() == "escape":
            escape = directive.group(2)
    out, pending = [], ""
    for raw in lines:
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not stripped:
            continue
        if raw.rstrip().endswith(escape):
            pending += raw.rstrip()[: -len(escape)] + " "
            continue
        out.append((pending + raw).strip())
        pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out


_VARIABLE = re.compile(r"\\\$|\$\{(\w+)(?::([-+])([^}]*))?\}|\$(\w+)")


def substitute(text: str, variables: dict[str, str]) -> str:
    """Docker's variable substitution in COPY/ADD/WORKDIR/ENV arguments."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "\\$":
            return "$"
        name = match.group(1) or match.group(4)
        value = variables.get(name, "")
        if match.group(2) == "-":
            return value or match.group(3)
        if match.group(2) == "+":
            return match.group(3) if value else ""
        return value

    return _VARIABLE.sub(one, text)


def _parse_env(arguments: str, variables: dict[str, str]) -> dict[str, str]:
    words = shlex.split(arguments, posix=True)
    if words and "=" not in words[0]:  # legacy `ENV KEY value with spaces`
        return {words[0]: substitute(" ".join(words[1:]), variables)}
    pairs = {}
    for word in words:
        key, _, value = word.partition("=")
        pairs[key] = substitute(value, {**variables, **pairs})
    return pairs


@dataclass
class Image:
    copies: list[CopyStep]
    env: dict[str, str]
    workdir: str
    entrypoint: list[str]
    cmd: list[str]
    runs: list[str] = field(default_factory=list)  # RUN arguments, in order


def parse_dockerfile(text: str) -> Image:
    """The steps of a single-stage Dockerfile that decide the image's own files."""
    variables: dict[str, str] = {}
    env: dict[str, str] = {}
    workdir = "/"
    copies: list[CopyStep] = []
    entrypoint: list[str] = []
    cmd: list[str] = []
    runs: list[str] = []
    stages = 0
    for line in _logical_lines(text):
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            stages += 1
            if stages > 1:
                raise NotImplementedError("multi-stage Dockerfiles are not modelled")
        elif keyword == "ARG":
            name, _, default = arguments.partition("=")
            variables.setdefault(name.strip(), default.strip().strip('"'))
        elif keyword == "ENV":
            pairs = _parse_env(arguments, variables)
            env.update(pairs)
            variables.update(pairs)
        elif keyword == "WORKDIR":
            workdir = posixpath.normpath(
                posixpath.join(workdir, substitute(arguments, variables))
            )
        elif keyword in ("ENTRYPOINT", "CMD"):
            value = (
                json.loads(arguments)
                if arguments.startswith("[")
                else ["/bin/sh", "-c", arguments]
            )
            if keyword == "ENTRYPOINT":
                entrypoint, cmd = value, []
            else:
                cmd = value
        elif keyword in ("COPY", "ADD"):
            copies.append(_copy_step(keyword, arguments, variables, workdir))
        elif keyword == "RUN":
            runs.append(arguments)
    return Image(copies, env, workdir, entrypoint, cmd, runs)


def _copy_step(
    keyword: str, arguments: str, variables: dict[str, str], workdir: str
) -> CopyStep:
    flags: dict[str, str] = {}
    words = arguments.split()
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    for name in flags:
        if name == "from":
            raise NotImplementedError("COPY --from copies from another image")
        if name not in ("chown", "chmod", "link"):
            raise NotImplementedError(f"{keyword} --{name} is not modelled")
    rest = " ".join(words)
    if rest.startswith("["):
        words = json.loads(rest)
    words = [substitute(word, variables) for word in words]
    if len(words) < 2:
        raise ValueError(f"{keyword} needs a source and a destination: {arguments}")
    *sources, destination = words
    is_directory = destination.endswith("/") or destination in (".", "..")
    absolute = posixpath.normpath(posixpath.join(workdir, destination))
    return CopyStep(keyword, sources, absolute, is_directory, flags)


# ------------------------------------------------------------------ assembling


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """filepath.Match, which COPY uses for sources: `*` and `?` stay in a segment."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError(f"bad pattern {pattern!r}")
            body = pattern[i + 1 : end]
            out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def _resolve_sources(source: str, context: dict[str, Path]) -> list[tuple[str, bool]]:
    """(context path, is a folder) for one COPY source; an error when nothing matches
    (what the builder reports for a missing or ignored file)."""
    if re.match(r"^[a-z]+://", source):
        raise NotImplementedError(f"remote sources are not modelled: {source}")
    cleaned = posixpath.normpath(source.lstrip("/"))
    folders = {"."}
    for path in context:
        parts = path.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    if any(ch in cleaned for ch in "*?["):
        regex = _glob_regex(cleaned)
        hits = sorted(
            [(p, False) for p in context if regex.match(p)]
            + [(d, True) for d in folders if d != "." and regex.match(d)]
        )
    elif cleaned in context:
        hits = [(cleaned, False)]
    elif cleaned in folders:
        hits = [(cleaned, True)]
    else:
        hits = []
    if not hits:
        raise FileNotFoundError(
            f"COPY source {source!r} is not in the build context (missing, or "
            "excluded by the .dockerignore)"
        )
    return hits


def assemble_image(
    context: Path, dockerfile: Path, out: Path
) -> tuple[Image, dict[str, Path]]:
    """Lay out the files an image gets from the context under `out` (its "/").

    Returns:
        The parsed image and its files: absolute image path -> context file.
    """
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    if not ignore.exists():
        ignore = context / ".dockerignore"
    patterns = parse_dockerignore(ignore.read_text(encoding="utf-8"))
    files = build_context(context, patterns)
    image = parse_dockerfile(dockerfile.read_text(encoding="utf-8"))
    placed: dict[str, Path] = {}
    for step in image.copies:
        hits = [
            hit for source in step.sources for hit in _resolve_sources(source, files)
        ]
        several = len(hits) > 1 or any(is_dir for _, is_dir in hits)
        if len(hits) > 1 and not step.is_directory:
            raise ValueError(
                f"{step.keyword} of several sources needs a destination ending in /: "
                f"{step.sources} -> {step.destination}"
            )
        is_folder = (
            step.is_directory
            or several
            or any(p.startswith(step.destination + "/") for p in placed)
        )
        for path, is_dir in hits:
            if is_dir:  # a folder's contents, not the folder itself
                prefix = "" if path == "." else path + "/"
                for rel in (p for p in files if p.startswith(prefix)):
                    target = posixpath.join(step.destination, rel[len(prefix) :])
                    placed[target] = files[rel]
            elif step.keyword == "ADD" and tarfile.is_tarfile(files[path]):
                raise NotImplementedError("ADD of a local archive is not modelled")
            else:
                name = posixpath.basename(path)
                target = (
                    posixpath.join(step.destination, name)
                    if is_folder
                    else step.destination
                )
                placed[target] = files[path]
    for target, source in placed.items():
        destination = out / target.lstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    return image, placed


def image_path(out: Path, path: str) -> Path:
    """Where an absolute image path lies in the assembled folder."""
    return out / path.lstrip("/")


# ------------------------------------------------------------------ the rules, tested


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("actions/server.py", False),
        ("actions/__pycache__/server.cpython-310.pyc", True),
        ("actions/risk/rules.yml", False),
        ("addons/lexicon.yml", False),
        ("addons/channels.py", True),  # only the lexicon is let back in
        ("data/knowledge/fees-cards-en.md", False),
        ("data/nlu/faq.yml", True),
        (".env", True),
        (".secrets/jwt_secret", True),
        ("finassist.db", True),
        ("models/finassist.tar.gz", True),
        ("requirements.txt", False),
        ("deploy/docker/constraints-actions.txt", False),
        ("deploy/docker/actions.Dockerfile", True),
    ],
)
def test_ignore_rules_of_the_actions_image(path: str, ignored: bool) -> None:
    patterns = parse_dockerignore(
        (DOCKER / "actions.Dockerfile.dockerignore").read_text(encoding="utf-8")
    )
    assert is_ignored(path, patterns) is ignored


@pytest.mark.parametrize(
    ("rules", "path", "ignored"),
    [
        ("**/*.pyc", "a/b/c.pyc", True),
        ("**/*.pyc", "c.pyc", True),
        ("docs/**", "docs/a/b.md", True),
        ("docs/**", "docsx/a.md", False),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md", "CHANGES.md", True),
        ("*.md\n!README.md\nREADME*", "README.md", True),  # the last match wins
        ("data\n!data/keep.yml", "data/keep.yml", False),
        ("data\n!data/keep.yml", "data/other.yml", True),
        ("/build/", "build/x", True),
        ("a?c", "a/c", False),  # ? never matches the separator
        ("a?c", "abc/x", True),  # a matching folder takes its files along
        ("*/temp*", "somedir/temporary.txt", True),
        ("*/temp*", "somedir/sub/temporary.txt", False),
        ("# a comment\n*.log", "x.log", True),
        ("  *.log  ", "x.log", True),
        ("lib/[ab].py", "lib/a.py", True),
        ("lib/[ab].py", "lib/c.py", False),
        ("*\n!actions/\n**/__pycache__", "actions/__pycache__/x.pyc", True),
    ],
)
def test_dockerignore_rules(rules: str, path: str, ignored: bool) -> None:
    assert is_ignored(path, parse_dockerignore(rules)) is ignored


def test_dockerfile_parsing_and_copy_semantics(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    for rel in (
        "app/a.py",
        "app/pkg/b.py",
        "app/pkg/__pycache__/b.pyc",
        "conf/x.yml",
        "conf/y.yml",
        "conf/z.txt",
        "README.md",
        "secret.env",
    ):
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        (context / rel).write_text(rel)
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(
        "# escape=\\\n"
        "FROM python:3.10\n"
        "ARG DEST=/srv\n"
        "ENV APP_HOME=${DEST}/app \\\n"
        "    OTHER=1\n"
        "WORKDIR $APP_HOME\n"
        "# a comment between instructions\n"
        "COPY --chown=1001:0 --chmod=644 app/ ./code/\n"
        'COPY ["conf/*.yml", "README.md", "etc/"]\n'
        "COPY conf/z.txt notes.txt\n"
        "WORKDIR sub\n"
        "COPY app/a.py .\n"
        'ENTRYPOINT ["python"]\n'
        'CMD ["-m", "code.a"]\n'
    )
    (context / "Dockerfile.dockerignore").write_text(
        "*.env\n**/__pycache__\nDockerfile*\n"
    )
    image, placed = assemble_image(context, dockerfile, tmp_path / "out")
    assert sorted(placed) == [
        "/srv/app/code/a.py",
        "/srv/app/code/pkg/b.py",
        "/srv/app/etc/README.md",
        "/srv/app/etc/x.yml",
        "/srv/app/etc/y.yml",
        "/srv/app/notes.txt",
        "/srv/app/sub/a.py",
    ]
    assert (tmp_path / "out/srv/app/notes.txt").read_text() == "conf/z.txt"
    assert image.workdir == "/srv/app/sub"
    assert image.env == {"APP_HOME": "/srv/app", "OTHER": "1"}
    assert image.copies[0].flags == {"chown": "1001:0", "chmod": "644"}
    assert (image.entrypoint, image.cmd) == (["python"], ["-m", "code.a"])


@pytest.mark.parametrize(
    ("instruction", "error"),
    [
        ("COPY secret.env /x/", FileNotFoundError),  # ignored: not in the context
        ("COPY missing.txt /x/", FileNotFoundError),
        ("COPY a.txt b.txt /x", ValueError),  # several sources need a folder/
        ("COPY --from=build /out /x/", NotImplementedError),
        ("ADD https://example.invalid/f /x/", NotImplementedError),
    ],
)
def test_copy_errors(tmp_path: Path, instruction: str, error: type) -> None:
    for name in ("a.txt", "b.txt", "secret.env"):
        (tmp_path / name).write_text(name)
    (tmp_path / "Dockerfile").write_text(f"FROM scratch\n{instruction}\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("*.env\n")
    with pytest.raises(error):
        assemble_image(tmp_path, tmp_path / "Dockerfile", tmp_path / "out")


# ------------------------------------------------------------------ the servers


def redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping())
    except Exception:
        return False


def image_env(image: Image, out: Path, extra: dict[str, str]) -> dict[str, str]:
    """The process environment of a container of the image, on this machine.

    The image's ENV with its absolute paths moved into the folder; from this
    machine only what a container would also have (PATH to the venv, HOME,
    locale, BLAS settings), never a variable that points into the checkout.
    """
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}/usr/bin:/bin"
    for name, value in image.env.items():
        env[name] = str(image_path(out, value)) if value.startswith("/") else value
    env.update(extra)
    for name, value in env.items():  # PATH: the venv stands in for site-packages
        assert name == "PATH" or str(ROOT) not in value, f"{name} -> checkout"
    return env


def translate(args: list[str], out: Path) -> list[str]:
    return [str(image_path(out, a)) if a.startswith("/app/") else a for a in args]


@dataclass
class ImageServers:
    rasa_url: str
    folders: dict[str, Path]
    logs: dict[str, Path]

    def say(self, sender: str, text: str, token: str) -> str:
        reply = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, "metadata": {"auth_token": token}},
            timeout=90,
        )
        reply.raise_for_status()
        return "\n".join(m.get("text", "") for m in reply.json())


def assert_imports_from(folder: Path, env: dict[str, str], cwd: Path) -> None:
    """Our packages load from the image's folder, never from the checkout."""
    probe = subprocess.run(
        [
            str(VENV_BIN / "python"),
            "-c",
            "import actions, sys; print(actions.__file__); print(sys.path)",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    where, path = probe.stdout.splitlines()[:2]
    assert where.startswith(str(folder)), where
    venv = Path(sys.prefix).resolve()
    for entry in eval(path):
        resolved = Path(entry or cwd).resolve()
        assert not (
            resolved.is_relative_to(ROOT) and not resolved.is_relative_to(venv)
        ), f"{entry} is in the checkout"


def run_build_checks(image: Image, env: dict[str, str], cwd: Path) -> None:
    """The image's `RUN python -c ...` checks (imports, data files), on its folder.

    The other RUN steps install packages, which the venv stands in for.
    """
    for run in image.runs:
        words = shlex.split(run)
        if words[:2] != ["python", "-c"]:
            continue
        check = subprocess.run(
            [str(VENV_BIN / "python"), "-c", words[2]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert check.returncode == 0, f"RUN {run[:80]}...:\n{check.stderr[-3000:]}"


@pytest.fixture(scope="module")
def image_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageServers]:
    base = tmp_path_factory.mktemp("images")
    folders, images = {}, {}
    for name in IMAGES:
        out = base / name.split(".")[0]
        images[name], _ = assemble_image(ROOT, DOCKER / name, out)
        folders[name] = out
    rasa_image, action_image = images["rasa.Dockerfile"], images["actions.Dockerfile"]
    rasa_out, action_out = folders["rasa.Dockerfile"], folders["actions.Dockerfile"]
    state = base / "state"  # what the pods get from outside: databases, /tmp
    state.mkdir()
    db_url = f"sqlite:///{state / 'profile.db'}"
    migrate(db_url)  # the migration Job's work (deploy/k8s/migrate-job.yaml)
    engine = make_engine(db_url)
    seed(engine, date.today())
    engine.dispose()
    rasa_port, actions_port = free_port(), free_port()
    production = redis_answers()  # production settings need shared rate limits
    shared = {
        "FINASSIST_JWT_SECRET": SECRET,
        "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
        "TMPDIR": str(state),
    }
    if not production:
        shared["FINASSIST_ENV"] = "test"
    action_env = image_env(
        action_image,
        action_out,
        {
            **shared,
            "DATABASE_URL": db_url,
            "ACTIONS_PORT": str(actions_port),
            "ACTIONS_HOST": "127.0.0.1",
            "LLM_BASE_URL": "",
        },
    )
    rasa_env = image_env(
        rasa_image,
        rasa_out,
        {
            **shared,
            "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
            "TRACKER_DB_URL": f"sqlite:///{state / 'trackers.db'}",
            "RATE_LIMIT_REDIS_URL": "redis://127.0.0.1:6379/13",
            "SOCKETIO_ORIGINS": "http://127.0.0.1",
            "LOG_LEVEL": "INFO",
        },
    )
    action_cwd = image_path(action_out, action_image.workdir)
    rasa_cwd = image_path(rasa_out, rasa_image.workdir)
    assert_imports_from(action_out, action_env, action_cwd)
    assert_imports_from(rasa_out, rasa_env, rasa_cwd)
    run_build_checks(action_image, action_env, action_cwd)
    run_build_checks(rasa_image, rasa_env, rasa_cwd)
    # The images' own commands, with the folder's paths. The Rasa server uses the
    # image's runtime/endpoints.yml (single-process stores) instead of
    # endpoints.production.yml (PostgreSQL, RabbitMQ): the same files, fewer services.
    entry = action_image.entrypoint + action_image.cmd
    assert entry[:3] == ["python", "-m", "actions.server"], entry
    action_command = [str(VENV_BIN / "python"), *entry[1:], "--host", "127.0.0.1"]
    rasa_args = translate(rasa_image.cmd, rasa_out)
    rasa_args = [
        a.replace("endpoints.production.yml", "endpoints.yml") for a in rasa_args
    ]
    port_at = rasa_args.index("--port") + 1
    rasa_args[port_at] = str(rasa_port)
    rasa_command = [
        str(VENV_BIN / "rasa"),
        *rasa_args,
        "--enable-api",
        "--auth-token",
        RASA_API_TOKEN,
    ]
    logs = {"actions": base / "actions.log", "rasa": base / "rasa.log"}
    processes: dict[str, subprocess.Popen] = {}
    handles = []
    try:
        for name, command, env, cwd in (
            ("actions", action_command, action_env, action_cwd),
            ("rasa", rasa_command, rasa_env, rasa_cwd),
        ):
            handle = open(logs[name], "w")
            handles.append(handle)
            processes[name] = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT
            )
        wait_until_ready(
            f"http://127.0.0.1:{actions_port}/health", processes["actions"]
        )
        wait_until_ready(
            f"http://127.0.0.1:{rasa_port}/status?token={RASA_API_TOKEN}",
            processes["rasa"],
            seconds=400,
        )
        yield ImageServers(f"http://127.0.0.1:{rasa_port}", folders, logs)
    finally:
        for process in processes.values():
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for handle in handles:
            handle.close()


# What the customer reads when a turn failed: the channel's notices
# (actions/channel_guard.py) and the actions' own utter_service_unavailable.
OUTAGE = (
    "系统暂时繁忙",
    "briefly unavailable",
    "我没能回答这条消息",
    "could not answer",
    "系统暂时无法处理",
    "can't reach our systems",
    "systems can't handle this",
)


@pytest.mark.integration
@pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`")
def test_images_hold_every_file_a_conversation_reads(
    image_servers: ImageServers,
) -> None:
    token, me = token_for("C001"), f"image-check-{os.getpid()}"
    turns = [
        # (what the customer says, what the reply must contain, the path it takes)
        ("你好", "李明", "greeting, profile"),
        ("帮我查一下余额", "28,650.32 元", "balance, logged in"),
        ("阿萨德飞过海就看了", "转人工", "not understood: experiments.yml"),
        ("转账手续费怎么收", "免收手续费", "FAQ"),
        ("大额存单的起存金额是多少", "200,000", "out of scope: knowledge base"),
        ("我想给张伟转五千", "5,000.00 元", "transfer: lexicon, transfer rules"),
        ("算了，不转了", "转账已取消", "transfer cancelled"),
        ("我的卡被盗刷了，急死了！", "冻结", "distressed: experiments.yml, risk rules"),
    ]
    problems = []
    replies = []
    for text, expected, path in turns:
        reply = image_servers.say(me, text, token)
        replies.append(reply)
        if not reply.strip():
            problems.append(f"{path}: {text!r} got no reply")
        elif any(marker in reply for marker in OUTAGE):
            problems.append(f"{path}: {text!r} got the outage notice: {reply!r}")
        elif expected and expected not in reply:
            problems.append(f"{path}: {text!r} -> {reply!r} lacks {expected!r}")
    for name, log in image_servers.logs.items():
        text = log.read_text(encoding="utf-8", errors="replace")
        for error in ("Traceback", "FileNotFoundError", "No such file"):
            if error in text:
                at = text.index(error)
                problems.append(f"{name} log: {text[max(0, at - 300) : at + 600]}")
                break
    said = "\n".join(f"{t[0]!r} -> {r!r}" for t, r in zip(turns, replies, strict=True))
    print(said)  # shown with -rP: what the images answered
    assert not problems, "\n".join(problems) + "\n\nreplies:\n" + said
