"""A/B experiments: registry, deterministic assignment, storage, outcomes and tests."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from actions import experiments as ab
from actions.errors import ServiceUnavailable
from actions.experiments import AssignmentRow, Experiment, ExperimentError
from actions.metrics import Conversation, RatingRow, Turn
from actions.profile_db import models as m
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import session_scope

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
TONE = Experiment("reply_tone", ("concise", "empathetic"), (0.5, 0.5), salt="2026-1")
OFFER = Experiment("offer_human", ("late", "early"), (0.5, 0.5), salt="2026-1")
REGISTRY = {"reply_tone": TONE, "offer_human": OFFER}
IDS = [f"C{i:05d}" for i in range(10_000)]


# --- registry ------------------------------------------------------------------------------
def test_project_registry_declares_both_experiments() -> None:
    registry = ab.load_registry()
    assert registry["reply_tone"].variants == ("concise", "empathetic")
    assert registry["offer_human"].variants == ("late", "early")
    for spec in registry.values():
        assert spec.active and sum(spec.weights) == pytest.approx(1.0)
        assert spec.description


def test_parse_registry_normalises_weights() -> None:
    registry = ab.parse_registry(
        {"experiments": {"x": {"variants": {"a": 1, "b": 3}, "active": False}}}
    )
    assert registry["x"] == Experiment("x", ("a", "b"), (0.25, 0.75), active=False)
    assert ab.parse_registry({}) == {} and ab.parse_registry(None) == {}


@pytest.mark.parametrize(
    "raw",
    [
        {"experiments": {"x": {"variants": {"a": 1}}}},
        {"experiments": {"x": {"variants": {"a": 1, "b": 0}}}},
        {"experiments": {"x": {"variants": {"a": 1, "b": "lots"}}}},
        {"experiments": {"x": {"variants": ["a", "b"]}}},
        {"experiments": {"bad name": {"variants": {"a": 1, "b": 1}}}},
        {"experiments": ["x"]},
    ],
)
def test_parse_registry_rejects_malformed_experiments(raw: dict) -> None:
    with pytest.raises(ExperimentError):
        ab.parse_registry(raw)


# --- assignment ----------------------------------------------------------------------------
def test_bucket_is_hmac_sha256_of_experiment_and_unit() -> None:
    digest = hmac.new(b"reply_tone:2026-1", b"customer:C001", hashlib.sha256).digest()
    expected = int.from_bytes(digest[:8], "big") / 2**64
    assert ab.bucket(TONE, "customer:C001") == expected
    assert ab.assign(TONE, "C001", "any") == (
        "concise" if expected < 0.5 else "empathetic"
    )


def test_assignment_is_deterministic() -> None:
    first = [ab.assign(TONE, c, "conv") for c in IDS[:500]]
    again = [
        ab.assign("reply_tone", c, "conv", experiments=REGISTRY) for c in IDS[:500]
    ]
    assert first == again


def test_customer_keeps_variant_across_conversations_and_channels() -> None:
    for customer in IDS[:50]:
        variants = {
            ab.assign(TONE, customer, f"{channel}-{n}")
            for channel in ("rest", "socketio")
            for n in range(10)
        }
        assert len(variants) == 1


def test_anonymous_users_are_assigned_by_conversation() -> None:
    variants = [ab.assign(TONE, None, f"conv-{i}") for i in range(200)]
    assert set(variants) == {"concise", "empathetic"}
    assert ab.assign(TONE, None, "conv-7") == variants[7]
    # A customer id and a conversation id that look alike are different units.
    assert ab.unit_id("X1", "X1") != ab.unit_id(None, "X1")


def test_split_is_balanced_over_ten_thousand_ids() -> None:
    counts = Counter(ab.assign(TONE, c, "conv") for c in IDS)
    # Binomial(10,000, 0.5): sd 50, so 5,000 +- 200 is a 4-sigma tolerance.
    assert abs(counts["empathetic"] - 5000) < 200


def test_configured_split_is_respected() -> None:
    skewed = Experiment("x", ("a", "b", "c"), (0.2, 0.3, 0.5))
    counts = Counter(ab.assign(skewed, c, "conv") for c in IDS)
    for variant, target in (("a", 2000), ("b", 3000), ("c", 5000)):
        assert abs(counts[variant] - target) < 4 * math.sqrt(target)


def test_different_experiments_are_independent() -> None:
    joint = Counter((ab.assign(TONE, c, "v"), ab.assign(OFFER, c, "v")) for c in IDS)
    # Independent 50/50 splits: each of the four cells holds about a quarter
    # (Binomial(10,000, 0.25): sd 43; 4 sigma = 173).
    assert len(joint) == 4
    for cell in joint.values():
        assert abs(cell - 2500) < 175


def test_new_salt_reshuffles() -> None:
    renewed = Experiment(TONE.name, TONE.variants, TONE.weights, salt="2027-1")
    moved = sum(ab.assign(TONE, c, "v") != ab.assign(renewed, c, "v") for c in IDS)
    assert abs(moved - 5000) < 200


def test_inactive_experiment_gives_the_control() -> None:
    off = Experiment("off", ("a", "b"), (0.5, 0.5), active=False)
    assert {ab.assign(off, c, "v") for c in IDS[:200]} == {"a"}


def test_unknown_experiment_is_an_error() -> None:
    with pytest.raises(ExperimentError):
        ab.assign("no_such_experiment", "C001", "v", experiments=REGISTRY)


# --- storage -------------------------------------------------------------------------------
def stored(repo: ProfileRepository) -> list[tuple]:
    a = m.ExperimentAssignment
    with session_scope(repo.engine) as s:
        return [
            tuple(r)
            for r in s.execute(
                select(
                    a.experiment, a.variant, a.customer_id, a.conversation_id
                ).order_by(a.id)
            )
        ]


def test_repository_stores_once_and_keeps_the_customer_variant(
    repo: ProfileRepository,
) -> None:
    def record(variant: str, customer: str | None, conv: str) -> str:
        return repo.record_experiment_assignment(
            experiment="reply_tone",
            variant=variant,
            customer_id=customer,
            conversation_id=conv,
        )

    assert record("empathetic", "C001", "app-1") == "empathetic"
    # Same conversation again (another turn): the stored variant holds.
    assert record("concise", "C001", "app-1") == "empathetic"
    # A new conversation of the same customer after the split changed.
    assert record("concise", "C001", "web-2") == "empathetic"
    # An anonymous conversation is stored without a customer.
    assert record("concise", None, "anon-3") == "concise"
    assert stored(repo) == [
        ("reply_tone", "empathetic", "C001", "app-1"),
        ("reply_tone", "empathetic", "C001", "web-2"),
        ("reply_tone", "concise", None, "anon-3"),
    ]


def test_variant_for_records_the_computed_variant(repo: ProfileRepository) -> None:
    variant = ab.variant_for(repo, "reply_tone", "C002", "app-9", experiments=REGISTRY)
    assert variant == ab.assign(TONE, "C002", "app-9")
    assert stored(repo) == [("reply_tone", variant, "C002", "app-9")]


def test_variant_for_inactive_experiment_records_nothing(
    repo: ProfileRepository,
) -> None:
    off = Experiment("off", ("a", "b"), (0.5, 0.5), active=False)
    assert ab.variant_for(repo, "off", "C002", "app-9", experiments={"off": off}) == "a"
    assert stored(repo) == []


def test_variant_for_maps_a_retired_variant_to_the_control(
    repo: ProfileRepository,
) -> None:
    repo.record_experiment_assignment(
        experiment="reply_tone",
        variant="legacy",
        customer_id="C002",
        conversation_id="a",
    )
    assert ab.variant_for(repo, "reply_tone", "C002", "b", experiments=REGISTRY) == (
        "concise"
    )


class BrokenRepository:
    def record_experiment_assignment(self, **_: object) -> str:
        raise ServiceUnavailable("profile database unavailable")


def test_variant_for_never_fails_a_turn() -> None:
    variant = ab.variant_for(
        BrokenRepository(),  # type: ignore[arg-type]
        "reply_tone",
        "C002",
        "app-9",
        experiments=REGISTRY,
    )
    assert variant == ab.assign(TONE, "C002", "app-9")


# --- significance tests --------------------------------------------------------------------
def test_two_proportion_z_test_hand_computed() -> None:
    # Control 45/100, treatment 60/100. Pooled p = 105/200 = 0.525;
    # se = sqrt(0.525 * 0.475 * (1/100 + 1/100)) = 0.0706222;
    # z = 0.15 / 0.0706222 = 2.12398; two-sided p = erfc(z / sqrt 2) = 0.033672.
    # Wald se = sqrt(.45 * .55 / 100 + .6 * .4 / 100) = 0.0698212;
    # CI = 0.15 -+ 1.959964 * 0.0698212 = [0.013153, 0.286847].
    test = ab.two_proportion_z_test(45, 100, 60, 100)
    assert test is not None
    assert (test.control_rate, test.treatment_rate) == (0.45, 0.6)
    assert test.difference == pytest.approx(0.15)
    assert test.z == pytest.approx(2.12398, abs=1e-5)
    assert test.p_value == pytest.approx(0.033672, abs=1e-6)
    assert (test.ci_low, test.ci_high) == pytest.approx((0.013153, 0.286847), abs=1e-6)
    # Swapping the arms flips the sign, not the p-value.
    swapped = ab.two_proportion_z_test(60, 100, 45, 100)
    assert swapped is not None
    assert swapped.z == pytest.approx(-test.z)
    assert swapped.p_value == pytest.approx(test.p_value)


def test_two_proportion_z_test_unequal_arms() -> None:
    # 30/200 vs 20/50: pooled 50/250 = 0.2; se = sqrt(.2 * .8 * (1/200 + 1/50))
    # = sqrt(0.004) = 0.0632456; z = (0.4 - 0.15) / se = 3.95285; p = 7.72e-5.
    test = ab.two_proportion_z_test(30, 200, 20, 50)
    assert test is not None
    assert test.z == pytest.approx(3.95285, abs=1e-5)
    assert test.p_value == pytest.approx(7.7215e-5, rel=1e-3)


def test_two_proportion_z_test_degenerate_cases() -> None:
    assert ab.two_proportion_z_test(0, 0, 3, 10) is None
    none = ab.two_proportion_z_test(0, 10, 0, 12)
    assert none is not None and (none.z, none.p_value) == (0.0, 1.0)


def test_welch_t_test_hand_computed() -> None:
    # Control 1..5: mean 3, variance 2.5; treatment 2, 4, ..., 10: mean 6, variance 10.
    # se = sqrt(2.5/5 + 10/5) = sqrt(2.5); t = 3 / 1.581139 = 1.897367;
    # df = 2.5^2 / (0.5^2/4 + 2^2/4) = 6.25 / 1.0625 = 5.882353; p = 0.10753.
    test = ab.welch_t_test([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert test is not None
    assert (test.control_mean, test.treatment_mean, test.difference) == (3, 6, 3)
    assert test.t == pytest.approx(1.897367, abs=1e-6)
    assert test.df == pytest.approx(100 / 17)
    assert test.p_value == pytest.approx(0.10753, abs=1e-5)


def test_welch_t_test_agrees_with_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    control = [5, 4, 4, 3, 5, 2, 4, 4, 3, 5, 1, 4]
    treatment = [5, 5, 4, 5, 4, 5, 3, 5, 4, 5]
    test = ab.welch_t_test(control, treatment)
    reference = stats.ttest_ind(treatment, control, equal_var=False)
    assert test is not None
    assert test.t == pytest.approx(reference.statistic)
    assert test.p_value == pytest.approx(reference.pvalue, rel=1e-9)


def test_welch_t_test_degenerate_cases() -> None:
    assert ab.welch_t_test([4], [3, 5]) is None
    same = ab.welch_t_test([4, 4, 4], [4, 4])
    assert same is not None and (same.t, same.p_value) == (0.0, 1.0)
    apart = ab.welch_t_test([3, 3], [5, 5])
    assert apart is not None and apart.p_value == 0.0 and apart.t == math.inf


@pytest.mark.parametrize(
    ("t", "df", "expected"),
    [
        # df = 1 is the Cauchy distribution: p = 1 - (2/pi) atan|t|.
        (1.0, 1, 0.5),
        (3.0, 1, 1 - 2 / math.pi * math.atan(3.0)),
        # df = 2 has a closed form: p = 1 - |t| / sqrt(2 + t^2).
        (1.0, 2, 1 - 1 / math.sqrt(3)),
        (-4.0, 2, 1 - 4 / math.sqrt(18)),
        (0.0, 7, 1.0),
        # Large df approaches the normal: p(1.959964) -> 0.05.
        (1.959964, 1e7, 0.05),
    ],
)
def test_student_t_two_sided_p(t: float, df: float, expected: float) -> None:
    assert ab.student_t_two_sided_p(t, df) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("a", "b", "x", "expected"),
    [
        (1, 1, 0.3, 0.3),  # uniform
        (2, 1, 0.5, 0.25),  # I_x(a, 1) = x^a
        (1, 3, 0.2, 1 - 0.8**3),  # I_x(1, b) = 1 - (1 - x)^b
        (5, 5, 0.5, 0.5),  # symmetric
        (2, 3, 0.0, 0.0),
        (2, 3, 1.0, 1.0),
    ],
)
def test_regularized_beta(a: float, b: float, x: float, expected: float) -> None:
    assert ab.regularized_beta(a, b, x) == pytest.approx(expected, abs=1e-12)


# --- outcomes per variant ------------------------------------------------------------------
def conv(cid: str, *, handed_off: bool = False, outcome: str = "ended") -> Conversation:
    return Conversation(
        cid,
        "rest",
        "zh",
        None,
        (Turn("faq"),),
        handed_off,
        "handoff" if handed_off else outcome,
    )


def test_variant_outcomes_and_analysis() -> None:
    assignments = [
        AssignmentRow("reply_tone", "concise", "C1", "k1", T0),
        AssignmentRow("reply_tone", "concise", "C1", "k2", T0),
        AssignmentRow("reply_tone", "concise", None, "k3", T0),
        AssignmentRow("reply_tone", "empathetic", "C2", "e1", T0),
        AssignmentRow("reply_tone", "empathetic", "C3", "e2", T0),
        # A later duplicate for k1 does not move it; other experiments are ignored.
        AssignmentRow("reply_tone", "empathetic", "C1", "k1", T0 + timedelta(1)),
        AssignmentRow("offer_human", "early", "C2", "e1", T0),
    ]
    conversations = [
        conv("k1", handed_off=True),
        conv("k2"),
        conv("k3", outcome="in_progress"),
        conv("e1"),
        conv("e2"),
        conv("unassigned"),
    ]
    ratings = [
        RatingRow("k1", 2, "rest", T0),
        RatingRow("k2", 4, "rest", T0),
        RatingRow("k2", 1, "rest", T0 + timedelta(1)),  # only the first counts
        RatingRow("e1", 5, "rest", T0),
        RatingRow("e2", 4, "rest", T0),
    ]
    result = ab.analyse(TONE, assignments, conversations, ratings)
    concise, empathetic = result.outcomes
    assert (concise.variant, concise.units, concise.conversations) == ("concise", 2, 3)
    assert (concise.resolved, concise.handoffs, concise.ratings) == (1, 1, (2, 4))
    assert concise.resolution_rate == pytest.approx(1 / 3)
    assert concise.handoff_rate == pytest.approx(1 / 3)
    assert concise.satisfaction_mean == 3.0
    assert (empathetic.units, empathetic.conversations, empathetic.resolved) == (
        2,
        2,
        2,
    )
    assert empathetic.ratings == (5, 4)
    [comparison] = result.comparisons
    assert (comparison.control, comparison.treatment) == ("concise", "empathetic")
    assert comparison.resolution == ab.two_proportion_z_test(1, 3, 2, 2)
    assert comparison.handoff == ab.two_proportion_z_test(1, 3, 0, 2)
    assert comparison.satisfaction == ab.welch_t_test([2, 4], [5, 4])
    # Far below 30 conversations per arm: nothing is called significant.
    assert comparison.enough_data is False and result.significant() == []


def test_analysis_finds_a_real_effect() -> None:
    assignments, conversations, ratings = [], [], []
    for i in range(400):
        variant = "concise" if i % 2 else "empathetic"
        cid = f"c{i}"
        assignments.append(AssignmentRow("reply_tone", variant, f"C{i}", cid, T0))
        # concise: every 4th conversation handed off (25%); empathetic: every 10th.
        handed = i % 8 == 1 if variant == "concise" else i % 20 == 0
        conversations.append(conv(cid, handed_off=handed))
        ratings.append(
            RatingRow(cid, 3 + (i % 3 == 0) + (variant == "empathetic"), "rest", T0)
        )
    result = ab.analyse(TONE, assignments, conversations, ratings)
    concise, empathetic = result.outcomes
    assert concise.handoff_rate == 0.25 and empathetic.handoff_rate == 0.1
    assert ("empathetic", "handoff") in result.significant()
    assert ("empathetic", "satisfaction") in result.significant()
