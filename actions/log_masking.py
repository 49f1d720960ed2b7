"""Personal data never reaches a log line, whichever library writes it.

`install()` wraps Python's log-record factory, so every record of every logger (Rasa,
its structlog output, Sanic, SQLAlchemy, our own) is masked with `actions.pii.mask_pii`
when it is created: the message (structlog's rendered events included) and the
exception text. Handlers and formatters added later (Rasa's coloured console, a JSON
shipper) need no change. Installed by the action server at start and, in the Rasa
server, when `addons` is imported (the tracker store and NLU components live there).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from actions.pii import mask_pii

_lock = threading.Lock()
_installed = False
# structlog's JSON output writes Chinese as \uXXXX escapes; "卡6222…" becomes
# "\u53616222…", which hides the card number inside a longer run of hex digits.
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(text: str) -> str:
    """Turn JSON unicode escapes back into characters (not surrogates), for masking."""

    def char(match: re.Match[str]) -> str:
        code = int(match.group(1), 16)
        return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)

    return _ESCAPE.sub(char, text) if "\\u" in text else text


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the message and the exception text in place."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed format string: leave it to the handler to report
        return record
    masked = mask_pii(_unescape(message))
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask_pii(logging.Formatter().formatException(record.exc_info))
    return record


def install() -> None:
    """Mask every log record of this process from now on (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        base = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return mask_record(base(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
