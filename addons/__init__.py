"""Custom Rasa components for FinAssist (loaded by the Rasa server only).

Importing the package, which Rasa does at start-up for the tracker store configured in
endpoints.yml, before any customer message arrives:
- masks personal data in every log line of the Rasa server (actions/log_masking.py);
- removes per-turn work Rasa repeats needlessly (addons/speedups.py).
"""

from actions.log_masking import install as _mask_logs
from addons.speedups import install as _speed_up

_mask_logs()
_speed_up()
