"""A/B experiments of reply strategies: registry, assignment, outcomes, significance.

Experiments are declared in ``data/experiments.yml``. A customer is assigned by a keyed
hash (HMAC-SHA256) of the experiment and their customer id, so they get the same variant
on every channel and in every session; an anonymous customer is assigned by conversation
id. Outcomes per variant (resolution, handoff, satisfaction) come from the conversation
summaries of `actions.metrics`; the tests are a two-proportion z-test for rates and
Welch's t-test for mean satisfaction, in pure Python (the action-server image has no
SciPy).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import yaml

from actions.errors import BotError
from actions.metrics import Conversation, RatingRow, share
from actions.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from actions.profile_db.repository import ProfileRepository

logger = logging.getLogger(__name__)

EXPERIMENTS_PATH = PROJECT_ROOT / "data" / "experiments.yml"
ALPHA = 0.05
# Below this many conversations in an arm the report says "not enough data" rather than
# trusting the normal approximations of the tests.
MIN_CONVERSATIONS_PER_VARIANT = 30
_SCALE = float(2**64)


class ExperimentError(ValueError):
    """The experiment registry is malformed, or an experiment is unknown."""


@dataclass(frozen=True)
class Experiment:
    """One experiment: its variants (the first is the control) and their shares.

    `weights` are normalised to sum to 1. `salt` is part of the hash key: changing it
    reshuffles everyone (a fresh experiment under the same name).
    """

    name: str
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    description: str = ""
    salt: str = ""
    active: bool = True

    @property
    def control(self) -> str:
        """The baseline variant, against which the others are tested."""
        return self.variants[0]


# --- registry -------------------------------------------------------------------------
def parse_registry(raw: Mapping[str, Any] | None) -> dict[str, Experiment]:
    """Validate the contents of ``experiments.yml``.

    Args:
        raw: the parsed YAML: ``{"experiments": {name: {"variants": {variant: weight},
            "description": str, "salt": str, "active": bool}}}``.

    Returns:
        Experiments by name.

    Raises:
        ExperimentError: fewer than two variants, a non-positive weight, a bad name.
    """
    section = (raw or {}).get("experiments") or {}
    if not isinstance(section, Mapping):
        raise ExperimentError("`experiments` must be a mapping of name to experiment")
    registry: dict[str, Experiment] = {}
    for name, spec in section.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ExperimentError(f"experiment name {name!r} must be an identifier")
        if not isinstance(spec, Mapping) or not isinstance(
            spec.get("variants"), Mapping
        ):
            raise ExperimentError(f"{name}: `variants` must map variant to weight")
        variants = tuple(str(v) for v in spec["variants"])
        try:
            weights = tuple(float(w) for w in spec["variants"].values())
        except (TypeError, ValueError) as exc:
            raise ExperimentError(f"{name}: weights must be numbers") from exc
        if len(variants) < 2:
            raise ExperimentError(f"{name}: an experiment needs two or more variants")
        if any(not math.isfinite(w) or w <= 0 for w in weights):
            raise ExperimentError(f"{name}: weights must be positive")
        total = sum(weights)
        registry[name] = Experiment(
            name=name,
            variants=variants,
            weights=tuple(w / total for w in weights),
            description=str(spec.get("description") or "").strip(),
            salt=str(spec.get("salt") or ""),
            active=bool(spec.get("active", True)),
        )
    return registry


def load_registry(path: Path = EXPERIMENTS_PATH) -> dict[str, Experiment]:
    """Read and validate an experiments file (see `parse_registry`)."""
    return parse_registry(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def registry() -> dict[str, Experiment]:
    """The project's experiments (``data/experiments.yml``), read once on first use."""
    return load_registry()


def _experiment(
    experiment: str | Experiment, experiments: Mapping[str, Experiment] | None
) -> Experiment:
    if isinstance(experiment, Experiment):
        return experiment
    known = registry() if experiments is None else experiments
    if experiment not in known:
        raise ExperimentError(f"unknown experiment {experiment!r}")
    return known[experiment]


# --- assignment -----------------------------------------------------------------------
def unit_id(customer_id: str | None, conversation_id: str) -> str:
    """Who is randomised: the customer when logged in, else the conversation.

    The prefixes keep a customer id and a conversation id that happen to be equal apart.
    """
    if customer_id:
        return f"customer:{customer_id}"
    return f"conversation:{conversation_id}"


def bucket(experiment: Experiment, unit: str) -> float:
    """A uniform number in [0, 1) fixed by the experiment and the unit.

    HMAC-SHA256 keyed with the experiment's name and salt over the unit id; the first 8
    bytes of the digest, as an integer, divided by 2**64. Different experiments use
    different keys, so their assignments are independent.
    """
    key = f"{experiment.name}:{experiment.salt}".encode()
    digest = hmac.new(key, unit.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign(
    experiment: str | Experiment,
    customer_id: str | None,
    conversation_id: str,
    *,
    experiments: Mapping[str, Experiment] | None = None,
) -> str:
    """The variant of an experiment for a customer (or an anonymous conversation).

    Pure and deterministic: the same customer gets the same variant on every channel,
    in every session and on every replica; nothing is stored (see `variant_for`).

    Args:
        experiment: the experiment's name (looked up in `experiments`, by default the
            project registry) or the experiment itself.
        customer_id: the verified customer, or None when not logged in.
        conversation_id: the conversation (used only when `customer_id` is None).
        experiments: the registry to look names up in.

    Returns:
        The variant name. An inactive experiment gives everyone its control.

    Raises:
        ExperimentError: the experiment is unknown.
    """
    spec = _experiment(experiment, experiments)
    if not spec.active:
        return spec.control
    point = bucket(spec, unit_id(customer_id, conversation_id))
    cumulative = 0.0
    for variant, weight in zip(spec.variants, spec.weights, strict=True):
        cumulative += weight
        if point < cumulative:
            return variant
    return spec.variants[-1]  # float rounding of the last cumulative share


def variant_for(
    repo: ProfileRepository,
    experiment: str,
    customer_id: str | None,
    conversation_id: str,
    *,
    experiments: Mapping[str, Experiment] | None = None,
) -> str:
    """The variant for this conversation, recorded in ``experiment_assignments``.

    This is the function an action calls. It blocks on the database, so call it off
    the event loop, for example::

        variant = await blocking(
            experiments.variant_for,
            services.profile_repository(),
            "reply_tone",
            customer_of(tracker),
            tracker.sender_id,
        )
        response = "utter_x_empathetic" if variant == "empathetic" else "utter_x"

    A conversation keeps the first variant recorded for it; a customer keeps the
    variant stored for their earlier conversations even if the split changes later
    (a stored variant no longer declared gives the control).
    An inactive experiment returns its control and records nothing. When the database
    fails the computed variant is returned unrecorded: an experiment never fails a
    turn (that conversation is then missing from the analysis).

    Raises:
        ExperimentError: the experiment is unknown.
    """
    spec = _experiment(experiment, experiments)
    variant = assign(spec, customer_id, conversation_id)
    if not spec.active:
        return variant
    try:
        stored = repo.record_experiment_assignment(
            experiment=spec.name,
            variant=variant,
            customer_id=customer_id,
            conversation_id=conversation_id,
        )
    except BotError:
        logger.warning("experiment %s: assignment not recorded", spec.name)
        return variant
    # A variant since removed from the registry: the action knows only current ones.
    return stored if stored in spec.variants else spec.control


# --- outcomes -------------------------------------------------------------------------
@dataclass(frozen=True)
class AssignmentRow:
    """An ``experiment_assignments`` row."""

    experiment: str
    variant: str
    customer_id: str | None
    conversation_id: str
    assigned_at: datetime


@dataclass(frozen=True)
class VariantOutcome:
    """Outcomes of one variant's conversations.

    `units` counts distinct randomised units (customers, or anonymous conversations).
    Rates are over `conversations`; `ratings` holds the first rating of each rated
    conversation.
    """

    variant: str
    units: int
    conversations: int
    resolved: int
    handoffs: int
    ratings: tuple[int, ...]

    @property
    def resolution_rate(self) -> float | None:
        """Conversations ended without a handoff / conversations."""
        return share(self.resolved, self.conversations)

    @property
    def handoff_rate(self) -> float | None:
        """Conversations handed to a person / conversations."""
        return share(self.handoffs, self.conversations)

    @property
    def satisfaction_mean(self) -> float | None:
        """Mean 1-5 rating, None without ratings."""
        return sum(self.ratings) / len(self.ratings) if self.ratings else None


def variant_outcomes(
    experiment: Experiment,
    assignments: Iterable[AssignmentRow],
    conversations: Iterable[Conversation],
    ratings: Iterable[RatingRow] = (),
) -> tuple[VariantOutcome, ...]:
    """Join an experiment's assignments to conversation outcomes and ratings.

    Only conversations with a stored assignment to this experiment and a summary
    count; a conversation's first stored assignment holds.

    Returns:
        One outcome per declared variant, in declaration order (then any variant found
        in the data but no longer declared).
    """
    variant_of: dict[str, str] = {}
    unit_of: dict[str, str] = {}
    for row in sorted(assignments, key=lambda r: r.assigned_at):
        if row.experiment == experiment.name and row.conversation_id not in variant_of:
            variant_of[row.conversation_id] = row.variant
            unit_of[row.conversation_id] = unit_id(row.customer_id, row.conversation_id)
    first_rating: dict[str, int] = {}
    for rating in sorted(ratings, key=lambda r: r.created_at):
        first_rating.setdefault(rating.conversation_id, rating.score)
    groups: dict[str, list[Conversation]] = {v: [] for v in experiment.variants}
    for conv in conversations:
        variant = variant_of.get(conv.conversation_id)
        if variant is not None:
            groups.setdefault(variant, []).append(conv)
    return tuple(
        VariantOutcome(
            variant=variant,
            units=len({unit_of[c.conversation_id] for c in convs}),
            conversations=len(convs),
            resolved=sum(c.is_resolved for c in convs),
            handoffs=sum(c.handed_off for c in convs),
            ratings=tuple(
                first_rating[c.conversation_id]
                for c in convs
                if c.conversation_id in first_rating
            ),
        )
        for variant, convs in groups.items()
    )


# --- significance tests ---------------------------------------------------------------
@dataclass(frozen=True)
class ProportionTest:
    """Two-proportion z-test of treatment against control (two-sided).

    z = (p_t - p_c) / sqrt(p (1 - p) (1/n_c + 1/n_t)), p the pooled rate. The confidence
    interval of the difference p_t - p_c uses the unpooled (Wald) standard error.
    """

    control_rate: float
    treatment_rate: float
    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float


@dataclass(frozen=True)
class MeanTest:
    """Welch's t-test of treatment against control means (two-sided).

    t = (m_t - m_c) / sqrt(s_c²/n_c + s_t²/n_t), with the Welch-Satterthwaite degrees of
    freedom; s² are sample variances (n - 1).
    """

    control_mean: float
    treatment_mean: float
    difference: float
    t: float
    df: float
    p_value: float


_NORMAL = NormalDist()


def two_proportion_z_test(
    x_control: int,
    n_control: int,
    x_treatment: int,
    n_treatment: int,
    confidence: float = 0.95,
) -> ProportionTest | None:
    """Test whether two rates differ (see `ProportionTest`).

    Args:
        x_control: successes in the control arm.
        n_control: trials in the control arm.
        x_treatment: successes in the treatment arm.
        n_treatment: trials in the treatment arm.
        confidence: level of the interval of the difference.

    Returns:
        The test; None when an arm is empty. When both arms are all successes or all
        failures there is no evidence of a difference: z = 0, p = 1.
    """
    if n_control <= 0 or n_treatment <= 0:
        return None
    p_c, p_t = x_control / n_control, x_treatment / n_treatment
    pooled = (x_control + x_treatment) / (n_control + n_treatment)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_treatment))
    z = (p_t - p_c) / se if se > 0 else 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2)) if se > 0 else 1.0
    wald = math.sqrt(p_c * (1 - p_c) / n_control + p_t * (1 - p_t) / n_treatment)
    margin = _NORMAL.inv_cdf(0.5 + confidence / 2) * wald
    diff = p_t - p_c
    return ProportionTest(p_c, p_t, diff, diff - margin, diff + margin, z, p_value)


def welch_t_test(
    control: Sequence[float], treatment: Sequence[float]
) -> MeanTest | None:
    """Test whether two means differ (see `MeanTest`).

    Returns:
        The test; None when an arm has fewer than two values. When both arms have no
        variance, p = 1 for equal means and 0 otherwise.
    """
    n_c, n_t = len(control), len(treatment)
    if n_c < 2 or n_t < 2:
        return None
    m_c, m_t = sum(control) / n_c, sum(treatment) / n_t
    v_c = sum((x - m_c) ** 2 for x in control) / (n_c - 1)
    v_t = sum((x - m_t) ** 2 for x in treatment) / (n_t - 1)
    a, b = v_c / n_c, v_t / n_t
    if a + b == 0:
        same = m_c == m_t
        return MeanTest(
            m_c,
            m_t,
            m_t - m_c,
            0.0 if same else math.copysign(math.inf, m_t - m_c),
            float(n_c + n_t - 2),
            1.0 if same else 0.0,
        )
    t = (m_t - m_c) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a**2 / (n_c - 1) + b**2 / (n_t - 1))
    return MeanTest(m_c, m_t, m_t - m_c, t, df, student_t_two_sided_p(t, df))


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom.

    Equals the regularised incomplete beta function I_x(df/2, 1/2), x = df/(df + t²).
    """
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if math.isinf(t):
        return 0.0
    return regularized_beta(df / 2, 0.5, df / (df + t * t))


def regularized_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1.

    Continued fraction (modified Lentz), as in Numerical Recipes §6.4.
    """
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b)
        - math.lgamma(a)
        - math.lgamma(b)
        + a * math.log(x)
        + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


# --- analysis -------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """One treatment variant tested against the control on the three outcomes."""

    control: str
    treatment: str
    resolution: ProportionTest | None
    handoff: ProportionTest | None
    satisfaction: MeanTest | None
    enough_data: bool


@dataclass(frozen=True)
class ExperimentResult:
    """Outcomes per variant and the tests of each treatment against the control."""

    experiment: Experiment
    outcomes: tuple[VariantOutcome, ...]
    comparisons: tuple[Comparison, ...]
    alpha: float = ALPHA

    def significant(self) -> list[tuple[str, str]]:
        """(treatment, outcome) pairs whose p-value is below alpha, with enough data."""
        found = []
        for comp in self.comparisons:
            if not comp.enough_data:
                continue
            for label, test in (
                ("resolution", comp.resolution),
                ("handoff", comp.handoff),
                ("satisfaction", comp.satisfaction),
            ):
                if test is not None and test.p_value < self.alpha:
                    found.append((comp.treatment, label))
        return found


def analyse(
    experiment: Experiment,
    assignments: Iterable[AssignmentRow],
    conversations: Iterable[Conversation],
    ratings: Iterable[RatingRow] = (),
    alpha: float = ALPHA,
) -> ExperimentResult:
    """Outcomes per variant and a test of every other variant against the control.

    Conversations are the unit of analysis and are treated as independent, although a
    customer's conversations share a variant; with few conversations per customer the
    error is small. The p-values are not corrected for testing several outcomes and
    experiments: read a single p just below alpha with care.
    """
    outcomes = variant_outcomes(experiment, assignments, conversations, ratings)
    control = outcomes[0]
    comparisons = tuple(
        Comparison(
            control=control.variant,
            treatment=other.variant,
            resolution=two_proportion_z_test(
                control.resolved,
                control.conversations,
                other.resolved,
                other.conversations,
            ),
            handoff=two_proportion_z_test(
                control.handoffs,
                control.conversations,
                other.handoffs,
                other.conversations,
            ),
            satisfaction=welch_t_test(control.ratings, other.ratings),
            enough_data=min(control.conversations, other.conversations)
            >= MIN_CONVERSATIONS_PER_VARIANT,
        )
        for other in outcomes[1:]
    )
    return ExperimentResult(experiment, outcomes, comparisons, alpha)
