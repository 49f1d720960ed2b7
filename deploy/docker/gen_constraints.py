"""Print the tested versions of everything the action server imports, transitively.

Run with the project's .venv (where requirements.txt is installed and tested):

    .venv/bin/python deploy/docker/gen_constraints.py \
        > deploy/docker/constraints-actions.txt

The action-server image installs requirements.txt (without Rasa itself) under these
constraints, so it runs the same spaCy, numpy, SQLAlchemy, ... as the tests did.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys

from packaging.requirements import Requirement

# What actions/ imports (rasa-sdk, requirements.txt without rasa, and what Rasa brings
# into the .venv that actions/ uses directly: spaCy for the risk rules, PyYAML).
ROOTS = (
    "rasa-sdk",
    "jieba",
    "SQLAlchemy",
    "alembic",
    "psycopg2-binary",
    "PyJWT",
    "httpx",
    "rank-bm25",
    "spacy",
    "PyYAML",
)
BUILD_TOOLS = frozenset({"setuptools", "wheel", "pip"})
HEADER = """\
# Constraints for the action-server image (deploy/docker/actions.Dockerfile): the
# exact versions of everything the action server imports, transitively, as installed
# in the project's tested .venv (Python 3.10). rasa/rasa-sdk's image has no spaCy,
# PyYAML or SQLAlchemy (Rasa brings them into the .venv), and an unpinned spaCy would
# pull a numpy its compiled thinc was not built for. Regenerate after changing
# requirements.txt:
#   .venv/bin/python deploy/docker/gen_constraints.py \\
#       > deploy/docker/constraints-actions.txt
# (tests/unit/test_deploy.py checks that the pins agree with requirements.txt.)"""


def closure(roots: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Installed distributions reachable from ``roots``.

    Returns:
        Normalised name -> (name, version).
    """
    seen: dict[str, tuple[str, str]] = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen or key in BUILD_TOOLS:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen[key] = (dist.metadata["Name"], dist.version)
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            stack.append(req.name)
    return seen


def main() -> int:
    """Write the constraints file to stdout."""
    print(HEADER)
    for _, (name, version) in sorted(closure(ROOTS).items()):
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
