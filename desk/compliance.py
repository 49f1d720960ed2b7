"""Risk alerts for compliance staff: list them and record the review.

GET  /api/risk-alerts?status=open|cleared|confirmed|released&limit=N
POST /api/risk-alerts/{alert_id}/review  {"status": "cleared"|"confirmed"|"released",
                                          "reviewer": "...", "note": "..."}
Both behind the desk's Bearer token; a review also needs the compliance officers' own
token in ``X-Compliance-Token`` (COMPLIANCE_TOKEN), so an agent chatting with a customer
cannot lift that customer's hold. Transfers stay held while an alert is open or
confirmed (`ProfileRepository.execute_transfer`); clearing or releasing lifts it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from aiohttp import web

from actions.money import format_money
from actions.pii import mask_pii
from actions.profile_db.repository import (
    REVIEW_STATUSES,
    AlertAlreadyReviewed,
    ProfileRepository,
    RiskAlertView,
)

STATUSES = ("open", *REVIEW_STATUSES)
MAX_NOTE_CHARS = 1000


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def alert_json(alert: RiskAlertView) -> dict[str, Any]:
    """An alert as the desk shows it; money as a string, never a float."""
    return {
        "id": alert.id,
        "created_at": alert.created_at.isoformat(),
        "status": alert.status,
        "rule_id": alert.rule_id,
        "rule_version": alert.rule_version,
        "ruleset": alert.ruleset,
        "category": alert.category,
        "score": alert.score,
        "source": alert.source,
        "excerpt": mask_pii(alert.excerpt),
        "amount": str(alert.amount) if alert.amount is not None else None,
        "amount_text": (
            format_money(alert.amount, alert.language)
            if alert.amount is not None
            else None
        ),
        "action_taken": alert.action_taken,
        "conversation_id": alert.conversation_id,
        "customer_id": alert.customer_id,
        "channel": alert.channel,
        "language": alert.language,
        "reviewer": alert.reviewer,
        "review_note": alert.review_note,
        "reviewed_at": alert.reviewed_at.isoformat() if alert.reviewed_at else None,
    }


def compliance_routes(
    repo: ProfileRepository, compliance_token: str = ""
) -> web.RouteTableDef:
    """The risk-alert routes, bound to the profile repository.

    Args:
        repo: the profile repository.
        compliance_token: the compliance officers' token; empty disables reviews.
    """
    routes = web.RouteTableDef()

    @routes.get("/api/risk-alerts")
    async def list_alerts(request: web.Request) -> web.Response:
        status = request.query.get("status") or None
        if status is not None and status not in STATUSES:
            return _error(400, f"status must be one of {', '.join(STATUSES)}")
        try:
            limit = min(1000, max(1, int(request.query.get("limit", "200"))))
        except ValueError:
            return _error(400, "limit must be a number")
        alerts = await asyncio.to_thread(repo.risk_alerts, status, limit)
        return web.json_response({"alerts": [alert_json(a) for a in alerts]})

    @routes.post("/api/risk-alerts/{alert_id}/review")
    async def review(request: web.Request) -> web.Response:
        if not compliance_token:
            return _error(503, "compliance review disabled: set COMPLIANCE_TOKEN")
        given = request.headers.get("X-Compliance-Token", "").strip()
        if not hmac.compare_digest(given.encode(), compliance_token.encode()):
            # 403, not 401: the agent's desk session itself is fine.
            return _error(403, "a compliance officer's token is required")
        try:
            alert_id = int(request.match_info["alert_id"])
            body = await request.json()
        except (ValueError, json.JSONDecodeError):
            return _error(400, "expected a numeric id and a JSON body")
        if not isinstance(body, dict):
            return _error(400, "expected a JSON object")
        status, reviewer = body.get("status"), str(body.get("reviewer") or "").strip()
        note = str(body.get("note") or "")
        if status not in REVIEW_STATUSES:
            return _error(400, f"status must be one of {', '.join(REVIEW_STATUSES)}")
        if not reviewer or len(reviewer) > 64 or len(note) > MAX_NOTE_CHARS:
            return _error(400, "reviewer (1-64 chars) is required; note ≤ 1000 chars")
        try:
            alert = await asyncio.to_thread(
                repo.review_risk_alert,
                alert_id,
                status=status,
                reviewer=reviewer,
                note=mask_pii(note),
            )
        except AlertAlreadyReviewed as exc:
            return _error(409, str(exc))
        if alert is None:
            return _error(404, "no such risk alert")
        return web.json_response(alert_json(alert))

    return routes
