"""Check NLU data hygiene: no duplicate examples, no held-out example in training data.

Used by `make test` (through tests/unit/test_nlu_data.py) and by hand:
`python scripts/check_nlu_data.py [--fix]` (--fix drops duplicate training examples).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TRAINING = sorted((ROOT / "data" / "nlu").rglob("*.yml"))
HOLDOUT = ROOT / "tests" / "evaluation" / "nlu_holdout.yml"
_EXAMPLE = re.compile(r"^\s*-\s(.*)$")


def normalise(text: str) -> str:
    """Lower-case, drop spaces and punctuation: near-identical lines compare equal."""
    return re.sub(r"[\W_]+", "", text).lower()


def examples(path: Path) -> list[tuple[str, str]]:
    """(intent, example text) pairs of a Rasa NLU YAML file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    pairs = []
    for block in doc.get("nlu", []):
        if "intent" not in block:
            continue
        for line in str(block.get("examples", "")).splitlines():
            match = _EXAMPLE.match(line)
            if match:
                pairs.append((block["intent"], match.group(1).strip()))
    return pairs


def problems() -> list[str]:
    """Every duplicate or leak, as a readable line."""
    found: list[str] = []
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TRAINING:
        for intent, text in examples(path):
            seen[normalise(text)].append(f"{path.relative_to(ROOT)}:{intent}:{text}")
    for key, places in seen.items():
        if key and len(places) > 1:
            found.append("duplicate in training data: " + " | ".join(places))
    if HOLDOUT.exists():
        for intent, text in examples(HOLDOUT):
            if normalise(text) in seen:
                found.append(
                    f"held-out example also in training data: {intent}: {text}"
                )
    return found


def fix_duplicates() -> int:
    """Drop the second and later copies of a training example; returns lines removed."""
    seen: set[str] = set()
    removed = 0
    for path in TRAINING:
        out = []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            match = _EXAMPLE.match(line)
            if match and line.startswith("    - "):
                key = normalise(match.group(1))
                if key in seen:
                    removed += 1
                    continue
                seen.add(key)
            out.append(line)
        path.write_text("".join(out), encoding="utf-8")
    return removed


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fix", action="store_true")
    args = parser.parse_args()
    if args.fix:
        print(f"removed {fix_duplicates()} duplicate training examples")
    issues = problems()
    for issue in issues:
        print(issue)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
