from datetime import datetime, timedelta, timezone

import jwt
import pytest

from actions.identity import customer_from_conversation, issue_token, verify_token
from actions.settings import DEV_JWT_SECRET, Settings, SettingsError

SECRET = "unit-test-secret-of-at-least-32-characters"


def user_event(token: str | None, channel: str = "rest") -> dict:
    return {
        "event": "user",
        "text": "hi",
        "input_channel": channel,
        "metadata": {"auth_token": token} if token else {},
    }


def test_token_round_trip() -> None:
    assert verify_token(issue_token("C001", SECRET, 5), SECRET) == "C001"


@pytest.mark.parametrize(
    "token",
    [
        issue_token(
            "C001", SECRET, 5, now=datetime.now(timezone.utc) - timedelta(hours=1)
        ),
        issue_token("C001", "another-secret-another-secret-1234", 5),
        jwt.encode(
            {"sub": "C001", "iss": "finassist-demo-idp"}, SECRET, algorithm="HS256"
        ),
        jwt.encode({"sub": "C001", "exp": 9999999999}, SECRET, algorithm="HS256"),
        "not-a-token",
        "",
        None,
        12345,
    ],
    ids=[
        "expired",
        "wrong-secret",
        "no-exp",
        "no-issuer",
        "garbage",
        "empty",
        "none",
        "number",
    ],
)
def test_invalid_tokens_are_refused(token: object) -> None:
    assert verify_token(token, SECRET) is None


def test_tampered_token_is_refused() -> None:
    header, payload, signature = issue_token("C001", SECRET, 5).split(".")
    forged = jwt.encode({"sub": "C002"}, "x", algorithm="HS256").split(".")[1]
    assert verify_token(f"{header}.{forged}.{signature}", SECRET) is None


def test_unsigned_alg_none_token_is_refused() -> None:
    token = jwt.encode(
        {"sub": "C001", "iss": "finassist-demo-idp", "exp": 9999999999},
        None,
        algorithm="none",
    )
    assert verify_token(token, SECRET) is None


def test_identity_from_latest_message_metadata() -> None:
    events = [user_event(issue_token("C002", SECRET, 5))]
    assert customer_from_conversation(events, "anyone", None, SECRET) == "C002"


def test_session_metadata_identifies_only_at_session_start() -> None:
    session = {"auth_token": issue_token("C003", SECRET, 5)}
    assert (
        customer_from_conversation(
            [user_event(None)], "x", session, SECRET, at_session_start=True
        )
        == "C003"
    )


def test_a_message_without_its_own_token_is_anonymous_in_a_logged_in_chat() -> None:
    # Someone posting into C003's conversation id without a token must not be C003.
    session = {"auth_token": issue_token("C003", SECRET, 5)}
    assert customer_from_conversation([user_event(None)], "x", session, SECRET) is None


def test_sender_id_is_never_an_identity_on_customer_channels() -> None:
    token = issue_token("C001", SECRET, 5)
    assert customer_from_conversation([user_event(None)], "C001", None, SECRET) is None
    assert (
        customer_from_conversation(
            [user_event(None)], token, None, SECRET, allow_shell=True
        )
        is None
    )


def test_shell_may_pass_a_token_as_conversation_id_when_allowed() -> None:
    token = issue_token("C001", SECRET, 5)
    events = [user_event(None, channel="cmdline")]
    assert (
        customer_from_conversation(events, token, None, SECRET, allow_shell=True)
        == "C001"
    )
    assert (
        customer_from_conversation(events, token, None, SECRET, allow_shell=False)
        is None
    )


def test_settings_defaults_and_overrides() -> None:
    settings = Settings.from_env({})
    assert settings.env == "dev" and settings.database_url.startswith("sqlite:///")
    custom = Settings.from_env(
        {"DATABASE_URL": "postgresql+psycopg2://u@h/db", "FINASSIST_TOKEN_TTL_MIN": "5"}
    )
    assert custom.database_url == "postgresql+psycopg2://u@h/db"
    assert custom.token_ttl_minutes == 5
    assert "secret" not in repr(custom).lower() or DEV_JWT_SECRET not in repr(custom)


@pytest.mark.parametrize(
    "env",
    [
        {"FINASSIST_ENV": "production"},
        {"FINASSIST_ENV": "production", "FINASSIST_JWT_SECRET": "short"},
        {"FINASSIST_ENV": "staging"},
        {"FINASSIST_TOKEN_TTL_MIN": "ten"},
        {"FINASSIST_MAX_SINGLE_TRANSFER": "-5"},
    ],
)
def test_bad_settings_fail_fast(env: dict) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


def test_production_disables_shell_identity() -> None:
    settings = Settings.from_env(
        {
            "FINASSIST_ENV": "production",
            "FINASSIST_JWT_SECRET": "p" * 40,
            "ACTION_SERVER_TOKEN": "a" * 40,
        }
    )
    assert settings.is_production and not settings.shell_identity


def test_production_refuses_an_action_server_without_a_strong_secret() -> None:
    for token in ("", "short"):
        with pytest.raises(SettingsError, match="ACTION_SERVER_TOKEN"):
            Settings.from_env(
                {
                    "FINASSIST_ENV": "production",
                    "FINASSIST_JWT_SECRET": "p" * 40,
                    "ACTION_SERVER_TOKEN": token,
                }
            )


def test_message_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"FINASSIST_MAX_MESSAGE_CHARS": "500", "FINASSIST_RATE_LIMIT_PER_MIN": "10"}
    )
    assert (settings.max_message_chars, settings.rate_limit_per_minute) == (500, 10)
    with pytest.raises(SettingsError):
        Settings.from_env({"FINASSIST_RATE_LIMIT_PER_MIN": "0"})


def test_the_compliance_token_is_nobody_elses() -> None:
    with pytest.raises(SettingsError, match="COMPLIANCE_TOKEN"):
        Settings.from_env({"AGENT_DESK_TOKEN": "same", "COMPLIANCE_TOKEN": "same"})
    token = "compliance-secret-9f3a"
    settings = Settings.from_env({"AGENT_DESK_TOKEN": "a", "COMPLIANCE_TOKEN": token})
    assert settings.compliance_token == token and token not in repr(settings)


def test_socketio_redis_url_is_optional_and_checked() -> None:
    from actions.settings import socketio_redis_url

    assert socketio_redis_url({}) is None
    assert socketio_redis_url({"SOCKETIO_REDIS_URL": " "}) is None
    url = "redis://:secret@redis:6379/2"
    assert socketio_redis_url({"SOCKETIO_REDIS_URL": url}) == url
    with pytest.raises(SettingsError, match="redis://"):
        socketio_redis_url({"SOCKETIO_REDIS_URL": "http://redis:6379"})
