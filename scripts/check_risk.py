"""Precision and recall of the risk rules per language, with floors.

Two hand-written tables of customer messages labelled risky / benign:
`tests/evaluation/risk_messages.csv` is held out (written apart from the rules and never
used to tune them; the floors apply to it) and `data/risk/dev_messages.csv` is the
development set the rules were tuned on (printed for comparison).
Usage: `python scripts/check_risk.py [--show-errors]`.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from actions.risk.detector import default_detector

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = ROOT / "tests" / "evaluation" / "risk_messages.csv"
DEV = ROOT / "data" / "risk" / "dev_messages.csv"
# Measured on the held-out table (ruleset 2026.11.1): zh P 0.960 R 0.774,
# en P 0.974 R 0.633. Floors sit just below, so a regression fails `make test`.
FLOORS = {"zh": (0.93, 0.74), "en": (0.93, 0.60)}
# Everyday banking messages (all NLU training examples and test-story turns) that trip a
# rule; measured 0 of 2,742. A false alarm stops a customer and pages a person.
MAX_EVERYDAY_FALSE_ALARM_RATE = 0.005
_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def everyday_messages() -> list[str]:
    """Customer turns from the NLU training data and the test stories."""
    texts = []
    for path in sorted((ROOT / "data" / "nlu").rglob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for line in (item.get("examples") or "").splitlines():
                text = _ANNOTATION.sub(r"\1", line.strip().removeprefix("- "))
                texts.append(text)
    for path in sorted((ROOT / "tests" / "stories").glob("*.yml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
            texts += [
                _ANNOTATION.sub(r"\1", step["user"])
                for step in story["steps"]
                if "user" in step
            ]
    return [t for t in texts if t.strip()]


def everyday_false_alarms(show_errors: bool) -> float:
    """Share of everyday banking messages that trip a rule (printed)."""
    detector = default_detector()
    texts = everyday_messages()
    fired = [t for t in texts if detector.assess(t).hits]
    if show_errors:
        for text in fired:
            print(f"  false alarm: {text}")
    rate = len(fired) / max(1, len(texts))
    print(f"  {len(fired)} of {len(texts)} messages fired ({rate:.2%})")
    return rate


def evaluate(path: Path, show_errors: bool) -> dict[str, tuple[float, float, int]]:
    """Precision, recall and row count per language for one table."""
    detector = default_detector()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    missed_by_category: dict[str, Counter[str]] = defaultdict(Counter)
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            hits = detector.assess(row["text"]).hits
            risky, lang = row["label"] == "risky", row["language"]
            outcome = {
                (True, True): "tp",
                (False, True): "fp",
                (True, False): "fn",
                (False, False): "tn",
            }[(risky, bool(hits))]
            counts[lang][outcome] += 1
            if outcome == "fn":
                missed_by_category[lang][row["category"]] += 1
            if show_errors and outcome in ("fp", "fn"):
                rules = ",".join(h.rule_id for h in hits)
                print(f"  {outcome} [{lang}] {row['text']} {rules}")
    results = {}
    for lang, c in sorted(counts.items()):
        precision = c["tp"] / max(1, c["tp"] + c["fp"])
        recall = c["tp"] / max(1, c["tp"] + c["fn"])
        results[lang] = (precision, recall, sum(c.values()))
        missed = ", ".join(
            f"{k} {v}" for k, v in sorted(missed_by_category[lang].items())
        )
        print(
            f"  {lang}: precision {precision:.3f}  recall {recall:.3f}  "
            f"(risky {c['tp'] + c['fn']}, benign {c['tn'] + c['fp']}; "
            f"false alarms {c['fp']}; missed: {missed or 'none'})"
        )
    return results


def main() -> int:
    """Print both tables' figures; return 1 if the held-out one is below a floor."""
    show = "--show-errors" in sys.argv
    print(f"risk rules, development set ({DEV.relative_to(ROOT)}):")
    evaluate(DEV, show)
    print(f"risk rules, held-out set ({HELD_OUT.relative_to(ROOT)}):")
    results = evaluate(HELD_OUT, show)
    print("risk rules, everyday banking messages (data/nlu, tests/stories):")
    failed = everyday_false_alarms(show) > MAX_EVERYDAY_FALSE_ALARM_RATE
    if failed:
        print(f"FAIL everyday false alarms above {MAX_EVERYDAY_FALSE_ALARM_RATE:.1%}")
    for lang, (p_floor, r_floor) in FLOORS.items():
        precision, recall, _ = results[lang]
        if precision < p_floor or recall < r_floor:
            print(
                f"FAIL {lang}: precision {precision:.3f} (floor {p_floor}), "
                f"recall {recall:.3f} (floor {r_floor})"
            )
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
