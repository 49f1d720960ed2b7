"""Read `rasa test` results, print the figures and fail below the floors.

Floors (set from measurement, see README "Quality gates"):
- intent F1 (weighted) on the held-out file >= 0.95 overall and per language;
- every end-to-end test story passes.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.metrics import f1_score

from actions.language import detect_language

INTENT_F1_FLOOR = 0.95
LANGUAGE_F1_FLOOR = 0.95


def _load(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def per_language_f1(results: Path) -> dict[str, tuple[float, int]]:
    """Weighted intent F1 of the held-out examples, split by their language."""
    rows = list(_load(results / "intent_successes.json")) + list(
        _load(results / "intent_errors.json")
    )
    gold: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        lang = detect_language(row["text"])
        gold[lang].append(row["intent"])
        pred[lang].append((row.get("intent_prediction") or {}).get("name") or "None")
    return {
        lang: (
            f1_score(gold[lang], pred[lang], average="weighted", zero_division=0),
            len(gold[lang]),
        )
        for lang in sorted(gold)
    }


def main(results: Path) -> int:
    """Print the figures; return 1 when a floor is missed."""
    failures: list[str] = []
    report = _load(results / "intent_report.json")
    overall = report["weighted avg"]["f1-score"] if report else 0.0
    print(f"held-out intent F1 (weighted): {overall:.4f}  floor {INTENT_F1_FLOOR}")
    if overall < INTENT_F1_FLOOR:
        failures.append(f"intent F1 {overall:.4f} < {INTENT_F1_FLOOR}")
    for lang, (f1, n) in per_language_f1(results).items():
        print(
            f"  {lang}: intent F1 {f1:.4f} on {n} examples  floor {LANGUAGE_F1_FLOOR}"
        )
        if f1 < LANGUAGE_F1_FLOOR:
            failures.append(f"{lang} intent F1 {f1:.4f} < {LANGUAGE_F1_FLOOR}")
    selector = _load(results / "response_selection_report.json")
    if selector:
        print(
            f"FAQ response selection F1 (weighted): "
            f"{selector['weighted avg']['f1-score']:.4f}"
        )
    for name, row in sorted(report.items()) if report else []:
        if (
            isinstance(row, dict)
            and "f1-score" in row
            and row.get("support")
            and (row["f1-score"] < 0.9)
            and name not in ("weighted avg", "macro avg")
        ):
            print(
                f"  weak intent: {name} F1 {row['f1-score']:.3f} (n={row['support']})"
            )
    stories = _load(results / "story_report.json")
    conv = stories.get("conversation_accuracy", {}) if stories else {}
    correct, total = conv.get("correct", 0), conv.get("total", 0)
    print(
        f"test stories passed: {correct}/{total}; action accuracy "
        f"{stories.get('accuracy', 0):.4f}"
        if stories
        else "test stories: no report"
    )
    if not total or correct != total:
        failures.append(f"test stories passed {correct}/{total}")
        failed = results / "failed_test_stories.yml"
        if failed.exists():
            for line in failed.read_text(encoding="utf-8").splitlines():
                if "# predicted" in line or line.startswith("- story:"):
                    print("  " + line.strip())
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "results")))
