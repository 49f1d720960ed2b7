"""Every change FinAssist makes to Rasa's own code, installed in one place.

Rasa imports the `addons` package before the first message (the tracker store in
endpoints.yml lives here), and the package installs these once. Each replaces a Rasa
3.6.21 internal, so a different Rasa version refuses to start until each patch has
been checked against it (`VERIFIED_RASA`).

- `addons.speedups`: per-turn work done once (action-response validator, event
  classes, dialogue states), measured by `make bench`.
- `addons.resilience`: a failed action call or conversation store is reported to
  the customer instead of being hidden; a bounded action-call time-out.
- `addons.turns`: no action twice in one turn, the prediction limit per turn, and
  a conversation never left stuck after the limit was hit.
- `actions.log_masking`: personal data masked in every log record.
"""

from __future__ import annotations

import rasa

from actions.log_masking import install as mask_logs
from actions.settings import action_timeout_s
from addons import resilience, speedups, turns

VERIFIED_RASA = "3.6.21"
_installed = False


class UnverifiedRasaVersion(RuntimeError):
    """The installed Rasa is not the version the patches were checked against."""


def install_all(version: str = rasa.__version__) -> None:
    """Install every patch (idempotent).

    Raises:
        UnverifiedRasaVersion: Rasa is not `VERIFIED_RASA`.
    """
    global _installed
    if version != VERIFIED_RASA:
        raise UnverifiedRasaVersion(
            f"FinAssist's Rasa patches were verified on Rasa {VERIFIED_RASA}, not "
            f"{version}: check addons/speedups.py, resilience.py and turns.py against "
            "it, then update VERIFIED_RASA"
        )
    if _installed:
        return
    mask_logs()
    speedups.install()
    resilience.install(action_timeout_s())
    turns.install()
    _installed = True
