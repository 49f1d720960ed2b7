"""Retrieval hit@3 per language on the held-out questions, with floors.

`tests/evaluation/llm_fallback_cases.yml` lists questions the trained skills do not
cover and the knowledge-base document that answers each; a hit is that document among
the three best. Usage: `python scripts/check_retrieval.py`.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.knowledge import KnowledgeIndex, load_passages

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "evaluation" / "llm_fallback_cases.yml"
HIT_AT_3_FLOOR = 0.80  # per language; measured zh 0.933, en 0.900 (see README)


def main() -> int:
    """Print hit@1 and hit@3 per language; return 1 below the floor."""
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))["cases"]
    index = KnowledgeIndex(load_passages())
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    misses = []
    for case in cases:
        results = index.search(case["question"], case["language"])
        found = [h.passage.doc_id for h in results]
        top1, top3 = found[:1] == [case["expected_doc"]], case["expected_doc"] in found
        hits[case["language"]].append((top1, top3))
        if not top3:
            misses.append(f"  miss [{case['language']}] {case['question']} -> {found}")
    failed = False
    for language, rows in sorted(hits.items()):
        at1 = sum(a for a, _ in rows) / len(rows)
        at3 = sum(b for _, b in rows) / len(rows)
        print(
            f"retrieval [{language}, n={len(rows)}]: hit@1 {at1:.3f}  hit@3 {at3:.3f}"
            f"  floor {HIT_AT_3_FLOOR}"
        )
        failed |= at3 < HIT_AT_3_FLOOR
    print("\n".join(misses))
    if failed:
        print("FAILED: retrieval hit@3 below the floor")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
