"""The web chat server: config, demo login, ratings (the page itself has its own test)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from actions.identity import verify_token
from actions.profile_db.repository import ProfileRepository
from actions.settings import Settings
from tests.conftest import SECRET, token_for
from webchat.app import create_app


@pytest.fixture
async def webchat(repo: ProfileRepository):
    settings = replace(
        Settings.from_env({"WEBCHAT_DEMO_LOGIN": "true"}), jwt_secret=SECRET
    )
    async with TestClient(TestServer(create_app(settings, repo))) as client:
        yield client, repo


async def test_config_tells_the_page_where_rasa_is(webchat) -> None:
    client, _ = webchat
    config = await (await client.get("/api/config")).json()
    assert config["socket_path"] == "/socket.io" and config["demo_login"] is True
    assert config["rasa_url"].startswith("http://") and config["max_message_chars"] > 0
    page = await client.get("/")
    assert page.status == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and config["rasa_url"] in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert (await client.get("/vendor/../app.py")).status in (403, 404, 503)


async def test_demo_login_signs_a_token_for_a_demo_customer(webchat) -> None:
    client, _ = webchat
    listed = await (await client.get("/api/demo-customers")).json()
    ids = [c["id"] for c in listed["customers"]]
    assert ids[:3] == ["C001", "C002", "C003"] and "BANK" not in ids
    login = await client.post("/api/demo-login", json={"customer_id": "C002"})
    body = await login.json()
    assert verify_token(body["token"], SECRET) == "C002"
    assert body["customer"]["language"] == "en" and body["expires_in"] > 0
    assert (
        await client.post("/api/demo-login", json={"customer_id": "BANK"})
    ).status == 404
    assert (await client.post("/api/demo-login", json={"customer_id": 5})).status == 400
    bad = await client.post("/api/demo-login", data=b"{oops")
    assert bad.status == 400 and "error" in await bad.json()


async def test_production_has_no_demo_login(repo: ProfileRepository) -> None:
    settings = Settings.from_env(
        {
            "FINASSIST_ENV": "production",
            "FINASSIST_JWT_SECRET": "p" * 40,
            "ACTION_SERVER_TOKEN": "a" * 40,
        }
    )
    assert settings.demo_login is False
    async with TestClient(TestServer(create_app(settings, repo))) as client:
        assert (await client.get("/api/demo-customers")).status == 404
        assert (
            await client.post("/api/demo-login", json={"customer_id": "C001"})
        ).status == 404


async def test_ratings_are_stored_with_the_customer_and_masked(webchat) -> None:
    client, repo = webchat
    headers = {"Authorization": f"Bearer {token_for('C001')}"}
    comment = "很好，客服让我留手机13812345678"
    stored = await client.post(
        "/api/ratings",
        json={"conversation_id": "web-1", "score": 5, "comment": comment},
        headers=headers,
    )
    assert stored.status == 201
    anonymous = await client.post(
        "/api/ratings", json={"conversation_id": "app-2", "score": 2, "channel": "rest"}
    )
    assert anonymous.status == 201
    assert repo.ratings("web-1") == [(5, "很好，客服让我留手机[PHONE ***5678]")]
    assert repo.ratings("app-2") == [(2, None)]
    again = await client.post(
        "/api/ratings", json={"conversation_id": "web-1", "score": 1}, headers=headers
    )
    assert again.status == 409 and repo.ratings("web-1")[0][0] == 5


async def test_only_the_owner_rates_a_logged_in_conversation(webchat) -> None:
    client, repo = webchat
    repo.record_interaction(
        customer_id="C001",
        conversation_id="c001-chat",
        channel="socketio",
        topic=None,
        outcome="in_progress",
    )
    body = {"conversation_id": "c001-chat", "score": 1}
    other = {"Authorization": f"Bearer {token_for('C002')}"}
    assert (await client.post("/api/ratings", json=body, headers=other)).status == 403
    assert (await client.post("/api/ratings", json=body)).status == 403
    owner = {"Authorization": f"Bearer {token_for('C001')}"}
    assert (await client.post("/api/ratings", json=body, headers=owner)).status == 201


async def test_ratings_are_rate_limited_per_address(webchat) -> None:
    client, _ = webchat
    codes = [
        (
            await client.post(
                "/api/ratings", json={"conversation_id": f"flood-{i}", "score": 3}
            )
        ).status
        for i in range(12)
    ]
    assert codes[:10] == [201] * 10 and set(codes[10:]) == {429}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"conversation_id": "c", "score": 0}, 400),
        ({"conversation_id": "c", "score": 6}, 400),
        ({"conversation_id": "c", "score": True}, 400),
        ({"conversation_id": "c", "score": "5"}, 400),
        ({"score": 4}, 400),
        ({"conversation_id": "c", "score": 4, "comment": "x" * 501}, 400),
        ({"conversation_id": "c", "score": 4, "channel": "fax"}, 400),
    ],
)
async def test_bad_ratings_get_a_clear_error(webchat, body, status) -> None:
    client, repo = webchat
    response = await client.post("/api/ratings", json=body)
    assert response.status == status and "error" in await response.json()
    assert repo.ratings("c") == []


async def test_a_forged_token_cannot_rate_as_a_customer(webchat) -> None:
    client, repo = webchat
    response = await client.post(
        "/api/ratings",
        json={"conversation_id": "c9", "score": 1},
        headers={"Authorization": "Bearer forged.token.value"},
    )
    assert response.status == 401 and repo.ratings("c9") == []


async def test_an_erased_customers_old_token_cannot_rate(webchat) -> None:
    from webchat.app import REVOCATIONS

    client, _ = webchat
    old = token_for("C002")
    client.app[REVOCATIONS].revoke("C002")
    response = await client.post(
        "/api/ratings",
        json={"conversation_id": "web-erased-1", "score": 5, "comment": "hi"},
        headers={"Authorization": f"Bearer {old}"},
    )
    assert response.status == 401
