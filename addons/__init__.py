"""Custom Rasa components for FinAssist (loaded by the Rasa server only).

Importing the package masks personal data in every log line of the Rasa server: the
tracker store configured in endpoints.yml is imported from here at start-up, before
any customer message arrives.
"""

from actions.log_masking import install as _mask_logs

_mask_logs()
