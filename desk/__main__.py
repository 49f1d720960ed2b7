"""`python -m desk`: serve the agent desk on AGENT_DESK_PORT."""

import logging

from aiohttp import web

from actions import services
from actions.settings import get_settings
from desk.app import create_app
from desk.rasa_client import RasaClient


def main() -> None:
    """Start the desk with the environment's settings."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    settings = get_settings()
    app = create_app(
        settings,
        services.profile_repository(),
        RasaClient(settings.rasa_url, settings.rasa_api_token),
    )
    web.run_app(app, host="127.0.0.1", port=settings.desk_port, print=None)


if __name__ == "__main__":
    main()
