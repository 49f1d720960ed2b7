"""Admin API of the desk: customer data erasure, behind its own bearer token.

`DELETE /api/admin/customers/{customer_id}` needs `Authorization: Bearer
<ADMIN_API_TOKEN>` (never the agents' token); without ADMIN_API_TOKEN it answers 503.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from actions.erasure import ErasureRefused, UnknownCustomer, erase_customer
from actions.profile_db.repository import ProfileRepository
from actions.settings import Settings, erasure_event_stream

logger = logging.getLogger(__name__)
ADMIN_PREFIX = "/api/admin/"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _is_admin(request: web.Request, expected: str) -> bool:
    given = request.headers.get("Authorization", "")
    return given.startswith("Bearer ") and hmac.compare_digest(
        given.removeprefix("Bearer ").strip().encode(), expected.encode()
    )


def admin_routes(settings: Settings, repo: ProfileRepository) -> list[web.RouteDef]:
    """The admin routes (the agent-token middleware leaves ADMIN_PREFIX to them).

    Args:
        settings: needs ``admin_token`` and ``tracker_db_url``.
        repo: the profile repository whose database is erased from.

    Returns:
        Routes to add to the desk application.
    """

    async def delete_customer(request: web.Request) -> web.Response:
        """Erase a customer's personal data; answers the erasure receipt."""
        if not settings.admin_token:
            return _error(503, "admin API disabled")
        if not _is_admin(request, settings.admin_token):
            return _error(401, "missing or wrong admin token")
        customer_id = request.match_info["customer_id"]
        try:
            receipt = await asyncio.to_thread(
                erase_customer,
                customer_id,
                repo,
                settings.tracker_db_url,
                event_stream=erasure_event_stream(),
            )
        except UnknownCustomer:
            return _error(404, "no such customer")
        except ErasureRefused as exc:
            return _error(409, str(exc))
        except SQLAlchemyError as exc:
            # The type only: the message may carry conversation ids (login tokens).
            logger.error("erasure failed: %s", type(exc).__name__)
            return _error(503, "database unavailable; rolled back, safe to retry")
        return web.json_response(receipt.as_dict())

    return [web.delete(ADMIN_PREFIX + "customers/{customer_id}", delete_customer)]
