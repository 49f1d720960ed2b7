"""The A/B experiments of data/experiments.yml, as the dialogue uses them.

Only logged-in customers take part: their variant follows them across channels and
sessions, so outcomes compare like with like. An anonymous visitor gets each
experiment's control and is not recorded (the same person could otherwise land in both
arms in two conversations).
"""

from __future__ import annotations

from rasa_sdk import Tracker

from actions import experiments, services
from actions.dialogue.common import blocking, customer_of

# Replies before which the bot offers a person, per `offer_human` variant: how many
# turns in a row it has not understood, this one included.
MISSES_BEFORE_OFFER = {"late": 2, "early": 1}


async def variant_of(tracker: Tracker, experiment: str) -> str:
    """This conversation's variant, recorded the first time it matters (exposure)."""
    customer = customer_of(tracker)
    if not customer:
        return experiments.registry()[experiment].control
    return await blocking(
        experiments.variant_for,
        services.profile_repository(),
        experiment,
        customer,
        tracker.sender_id,
    )
