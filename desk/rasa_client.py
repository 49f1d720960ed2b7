"""The Rasa HTTP API calls the agent desk needs (tracker, agent messages, hand-back)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class RasaUnavailable(Exception):
    """The Rasa server did not answer or refused the call."""


class RasaClient:
    """Async client of `rasa run --enable-api --auth-token ...`.

    Args:
        base_url: the Rasa server, e.g. ``http://127.0.0.1:5005``.
        token: the server's ``--auth-token``.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=10.0, transport=transport
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        query = {"token": self._token, **(params or {})}
        try:
            response = await self._http.request(method, path, params=query, json=body)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(
                f"Rasa server unreachable: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa server answered {response.status_code}")
        return response.json()

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's tracker: events, slots, paused state."""
        return await self._call("GET", f"/conversations/{conversation_id}/tracker")

    async def send_agent_message(
        self, conversation_id: str, text: str, agent: str
    ) -> None:
        """Record the agent's message and push it through the customer's channel."""
        await self._call(
            "POST",
            f"/conversations/{conversation_id}/tracker/events",
            params={"execute_side_effects": "true", "output_channel": "latest"},
            body={
                "event": "bot",
                "text": text,
                "metadata": {"agent": agent},
                # The web page shows "an agent has joined" from this marker (socket.io
                # emits `custom` as its own message after the text).
                "data": {"custom": {"data": {"kind": "agent", "agent": agent}}},
            },
        )

    async def hand_back(self, conversation_id: str, farewell: str) -> None:
        """Tell the customer the bot is back, then resume the bot.

        The resume is followed by an explicit ``action_listen``: without it the next
        message can trigger a fallback that rewinds past the resume and silently pauses
        the conversation again (a known Rasa 3.6 behaviour).
        """
        await self._call(
            "POST",
            f"/conversations/{conversation_id}/tracker/events",
            params={"execute_side_effects": "true", "output_channel": "latest"},
            body={
                "event": "bot",
                "text": farewell,
                "metadata": {"agent": "system"},
                "data": {"custom": {"data": {"kind": "agent_left"}}},
            },
        )
        await self._call(
            "POST",
            f"/conversations/{conversation_id}/tracker/events",
            body=[{"event": "resume"}, {"event": "action", "name": "action_listen"}],
        )
