"""`python -m webchat`: serve the customers' web chat page on WEBCHAT_PORT."""

import logging

from aiohttp import web

from actions import log_masking, services
from actions.settings import get_settings
from webchat.app import create_app


def main() -> None:
    """Start the page server with the environment's settings."""
    log_masking.install()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    settings = get_settings()
    app = create_app(settings, services.profile_repository())
    web.run_app(app, host="127.0.0.1", port=settings.webchat_port, print=None)


if __name__ == "__main__":
    main()
