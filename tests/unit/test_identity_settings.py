from datetime import datetime, timedelta, timezone

import jwt
import pytest

from actions import settings as settings_module
from actions.identity import customer_from_conversation, issue_token, verify_token
from actions.settings import PUBLIC_JWT_SECRETS, Settings, SettingsError

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
    # No secret value may appear in a settings repr (logs print settings).
    secret = "s3cret-value-0123456789-abcdefghijkl"
    shown = repr(
        Settings.from_env({"FINASSIST_JWT_SECRET": secret, "LLM_API_KEY": "k-9f8e7d"})
    )
    assert secret not in shown and "k-9f8e7d" not in shown
    assert custom.jwt_secret and custom.jwt_secret not in repr(custom)


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


def test_no_login_key_is_written_in_the_code(tmp_path, monkeypatch) -> None:
    # Without FINASSIST_JWT_SECRET a checkout makes its own key, once, private.
    monkeypatch.setattr(
        settings_module, "DEV_SECRET_FILE", tmp_path / ".secrets" / "jwt_secret"
    )
    first = settings_module.jwt_secret({}, "dev")
    assert len(first) >= 32 and first == settings_module.jwt_secret({}, "dev")
    assert (tmp_path / ".secrets" / "jwt_secret").stat().st_mode & 0o077 == 0
    assert first not in PUBLIC_JWT_SECRETS
    source = (settings_module.PROJECT_ROOT / "actions" / "settings.py").read_text()
    assert first not in source
    # Production refuses that key, a short one, none, and the once-public one.
    for env in (
        {"FINASSIST_ENV": "production"},
        {"FINASSIST_ENV": "production", "FINASSIST_JWT_SECRET": first},
        {"FINASSIST_ENV": "production", "FINASSIST_JWT_SECRET": "x" * 31},
    ):
        with pytest.raises(SettingsError, match="FINASSIST_JWT_SECRET"):
            Settings.from_env(env)
    for public in PUBLIC_JWT_SECRETS:  # refused everywhere, not only in production
        with pytest.raises(SettingsError, match="published"):
            Settings.from_env({"FINASSIST_JWT_SECRET": public})


def test_an_unwritable_checkout_fails_closed(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the secrets folder would go")
    monkeypatch.setattr(
        settings_module, "DEV_SECRET_FILE", blocker / ".secrets" / "jwt_secret"
    )
    key = settings_module.jwt_secret({}, "dev")
    # A per-process key: tokens signed elsewhere are refused, none accepted blindly.
    assert key == settings_module._PROCESS_SECRET and len(key) >= 32


@pytest.mark.parametrize(
    ("env", "demo"),
    [
        ({}, False),  # off unless asked for
        ({"WEBCHAT_DEMO_LOGIN": "false"}, False),
        ({"WEBCHAT_DEMO_LOGIN": "true"}, True),
        ({"WEBCHAT_DEMO_LOGIN": "true", "FINASSIST_ENV": "test"}, True),
    ],
)
def test_the_demo_login_is_off_unless_asked_for(env: dict, demo: bool) -> None:
    assert Settings.from_env(env).demo_login is demo


def test_production_refuses_the_demo_login_and_missing_channel_secrets() -> None:
    from actions.settings import channel_settings

    production = {
        "FINASSIST_ENV": "production",
        "FINASSIST_JWT_SECRET": "p" * 40,
        "ACTION_SERVER_TOKEN": "a" * 40,
    }
    with pytest.raises(SettingsError, match="WEBCHAT_DEMO_LOGIN"):
        Settings.from_env({**production, "WEBCHAT_DEMO_LOGIN": "true"})
    with pytest.raises(SettingsError, match="WEBCHAT_DEMO_LOGIN"):
        Settings.from_env({"WEBCHAT_DEMO_LOGIN": "yes please"})
    with pytest.raises(SettingsError, match="RATE_LIMIT_REDIS_URL"):
        channel_settings(
            {**production, "SOCKETIO_ORIGINS": "https://chat.bank.example"}
        )
    with pytest.raises(SettingsError, match="SOCKETIO_ORIGINS"):
        channel_settings({**production, "RATE_LIMIT_REDIS_URL": "redis://r:6379/0"})
    with pytest.raises(SettingsError, match="FINASSIST_JWT_SECRET"):
        channel_settings(
            {
                "FINASSIST_ENV": "production",
                "RATE_LIMIT_REDIS_URL": "redis://r:6379/0",
                "SOCKETIO_ORIGINS": "https://chat.bank.example",
            }
        )
    ok = channel_settings(
        {
            **production,
            "RATE_LIMIT_REDIS_URL": "redis://r:6379/0",
            "SOCKETIO_ORIGINS": "https://chat.bank.example, https://app.bank.example/",
        }
    )
    assert ok.socketio_origins == (
        "https://chat.bank.example",
        "https://app.bank.example",
    )
    for bad in ("chat.bank.example", "https://chat.bank.example/path", "*"):
        with pytest.raises(SettingsError, match="SOCKETIO_ORIGINS"):
            channel_settings({"SOCKETIO_ORIGINS": bad})
    with pytest.raises(SettingsError, match="FINASSIST_TRUSTED_PROXIES"):
        channel_settings({"FINASSIST_TRUSTED_PROXIES": "10.0.0.0/8, not-a-network"})


def test_the_socketio_signing_key_is_required_in_production_and_checked() -> None:
    from actions.settings import channel_settings, socketio_signing_secret

    production = {
        "FINASSIST_ENV": "production",
        "FINASSIST_JWT_SECRET": "p" * 40,
        "RATE_LIMIT_REDIS_URL": "redis://r:6379/0",
        "SOCKETIO_ORIGINS": "https://chat.bank.example",
    }
    shared = {**production, "SOCKETIO_REDIS_URL": "redis://r:6379/2"}
    channel_settings(production)  # one replica, nothing shared: no key needed
    with pytest.raises(SettingsError, match="SOCKETIO_SIGNING_KEY"):
        channel_settings(shared)
    with pytest.raises(SettingsError, match="SOCKETIO_SIGNING_KEY"):
        socketio_signing_secret(shared)
    key = "k" * 40
    channel_settings({**shared, "SOCKETIO_SIGNING_KEY": key})
    assert socketio_signing_secret({**shared, "SOCKETIO_SIGNING_KEY": key}) == key
    for bad in ("short", " " * 3 + "k" * 20, next(iter(PUBLIC_JWT_SECRETS))):
        with pytest.raises(SettingsError, match="SOCKETIO_SIGNING_KEY"):
            socketio_signing_secret({"SOCKETIO_SIGNING_KEY": bad})
    # outside production the checkout's login key stands in, never a public value
    dev = {"FINASSIST_JWT_SECRET": "d" * 40}
    assert socketio_signing_secret(dev) == "d" * 40
