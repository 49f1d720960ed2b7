"""The PII case table in tests/evaluation/pii_cases.yml, run against actions.pii."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from actions.pii import find_pii, mask_pii

CASES_FILE = Path(__file__).resolve().parents[1] / "evaluation" / "pii_cases.yml"
CASES: list[dict] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
KINDS = {"card", "id", "phone", "email", "account"}
# A mask label keeps at most the last four digits; six in a row would be a leak.
LEAK_WINDOW = 6


def _case_id(case: dict) -> str:
    return f"{CASES.index(case):02d}-{'neg' if not case['kinds'] else '+'.join(case['kinds'])}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case(case: dict) -> None:
    text = case["text"]
    assert mask_pii(text) == case["masked"]
    assert [m.kind for m in find_pii(text)] == case["kinds"]


def test_table_is_well_formed_and_big_enough() -> None:
    assert all(set(case) == {"text", "masked", "kinds"} for case in CASES)
    assert all(set(case["kinds"]) <= KINDS for case in CASES)
    negatives = [case for case in CASES if not case["kinds"]]
    assert all(case["masked"] == case["text"] for case in negatives)
    assert len(CASES) >= 50
    assert len(negatives) >= 20
    assert len({case["text"] for case in CASES}) == len(CASES), "duplicate text"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_masking_is_idempotent(case: dict) -> None:
    masked = mask_pii(case["text"])
    assert mask_pii(masked) == masked
    assert find_pii(masked) == []


@pytest.mark.parametrize("case", [c for c in CASES if c["kinds"]], ids=_case_id)
def test_no_digits_of_the_personal_data_survive(case: dict) -> None:
    text = case["text"]
    masked = mask_pii(text)
    masked_digits = re.sub(r"[ -]", "", masked)  # as if the leftovers were retyped
    for m in find_pii(text):
        value = text[m.start : m.end]
        assert value not in masked
        digits = re.sub(r"\D", "", value)
        for i in range(len(digits) - LEAK_WINDOW + 1):
            assert digits[i : i + LEAK_WINDOW] not in masked_digits, value
