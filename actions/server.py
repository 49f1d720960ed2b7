"""The action server, locked down: loopback by default, a shared secret, safe errors.

Run with ``python -m actions.server`` (`make run-actions`, `make run`). It is rasa-sdk's
own Sanic app (`rasa_sdk.endpoint.create_app`) with three additions:

- every call except ``/health`` needs ``Authorization: Bearer <ACTION_SERVER_TOKEN>``;
  the Rasa server sends it (``endpoints.yml``), anyone else gets 401;
- it listens on ``ACTIONS_HOST`` (127.0.0.1 unless a deployment puts it behind a
  private network, see README "Production");
- an unexpected error in an action becomes the polite ``utter_service_unavailable``
  reply in the customer's language, never a stack trace or error text, and the
  server log (masked, `actions.log_masking`) keeps the details.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys
from typing import Any

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

from actions import log_masking
from actions.settings import Settings, SettingsError, get_settings

logger = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health"})
SAFE_REPLY = {"events": [], "responses": [{"response": "utter_service_unavailable"}]}


def authorized(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries the shared secret (constant time)."""
    if not token or not header or not header.startswith("Bearer "):
        return False
    given = header.removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


def build_app(settings: Settings, package: str = "actions") -> Sanic:
    """rasa-sdk's app with the secret check and the safe error handler."""
    if not settings.action_server_token:
        raise SettingsError(
            "ACTION_SERVER_TOKEN is not set: the action server refuses to run open"
        )
    app = create_app(package, cors_origins=None)

    async def require_secret(request: Request) -> Any:
        if request.path in OPEN_PATHS:
            return None
        if not authorized(
            request.headers.get("Authorization"), settings.action_server_token
        ):
            return response.json({"error": "missing or wrong action-server token"}, 401)
        return None

    async def safe_error(request: Request, exception: Exception) -> Any:
        if isinstance(exception, SanicException):
            status = int(getattr(exception, "status_code", 500) or 500)
            return response.json({"error": "bad request"}, status=status)
        logger.error(
            "action failed on %s: %s",
            request.path,
            type(exception).__name__,
            exc_info=exception,
        )
        if request.path == "/webhook":
            # Rasa applies this like any action result: the customer hears that the
            # service is briefly unavailable, in their language, and the chat goes on.
            return response.json(SAFE_REPLY, status=200)
        return response.json({"error": "internal error"}, status=500)

    app.register_middleware(require_secret, "request")
    app.error_handler.add(Exception, safe_error)
    return app


def main(argv: list[str] | None = None) -> int:
    """Start the action server; exit code 2 on a configuration error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default=None)
    args = parser.parse_args(argv)
    log_masking.install()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        settings = get_settings()
        app = build_app(settings)
    except SettingsError as exc:
        print(f"action server: {exc}", file=sys.stderr)
        return 2
    host = args.host or settings.actions_host
    port = args.port or settings.actions_port
    logger.info("action server on http://%s:%s (shared secret required)", host, port)
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
