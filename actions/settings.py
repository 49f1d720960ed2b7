"""One place that reads the environment: every other module asks `get_settings()`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "finassist-development-secret-never-use-in-production"


class SettingsError(ValueError):
    """The environment describes an unusable configuration."""


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of the action server, the seed command and the tools."""

    env: str = "dev"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'finassist.db'}"
    jwt_secret: str = field(default=DEV_JWT_SECRET, repr=False)
    token_ttl_minutes: int = 60
    timezone: str = "Asia/Shanghai"
    max_single_transfer: Decimal = Decimal("200000.00")
    shell_identity: bool = True
    log_level: str = "INFO"
    agents_online: int = 2
    desk_port: int = 5010
    desk_token: str = field(default="", repr=False)
    admin_token: str = field(default="", repr=False)  # erasure API; empty: disabled
    # Risk-alert reviews in the desk; empty: disabled.
    compliance_token: str = field(default="", repr=False)
    tracker_db_url: str = f"sqlite:///{PROJECT_ROOT / 'trackers.db'}"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_api_token: str = field(default="", repr=False)
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_timeout_s: float = 8.0
    llm_retries: int = 1
    llm_local_model_path: str = ""
    # Hardening: the action server's shared secret and address; customer message limits.
    action_server_token: str = field(default="", repr=False)
    actions_host: str = "127.0.0.1"
    actions_port: int = 5055
    max_message_chars: int = 1000
    rate_limit_per_minute: int = 30
    # The customers' web chat page: its port, where its browser reaches the Rasa
    # server's socket.io, and whether the demo identity provider may issue tokens.
    webchat_port: int = 8080
    webchat_rasa_url: str = "http://127.0.0.1:5005"
    demo_login: bool = True

    @property
    def is_production(self) -> bool:
        """Production refuses development defaults such as the demo JWT secret."""
        return self.env == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Build settings from environment variables, failing fast on bad values.

        Args:
            env: the environment to read (``os.environ`` by default).

        Returns:
            Validated settings.

        Raises:
            SettingsError: a value is malformed, or production runs with a dev secret.
        """
        defaults = cls()
        app_env = env.get("FINASSIST_ENV", defaults.env).strip().lower() or "dev"
        if app_env not in {"dev", "test", "production"}:
            raise SettingsError(
                f"FINASSIST_ENV must be dev, test or production, not {app_env!r}"
            )
        secret = env.get("FINASSIST_JWT_SECRET", "").strip() or defaults.jwt_secret
        if app_env == "production" and (secret == DEV_JWT_SECRET or len(secret) < 32):
            raise SettingsError(
                "FINASSIST_JWT_SECRET must be set to a random value of 32+ characters "
                "in production"
            )
        try:
            ttl = int(env.get("FINASSIST_TOKEN_TTL_MIN", defaults.token_ttl_minutes))
            agents = int(env.get("FINASSIST_AGENTS_ONLINE", defaults.agents_online))
            desk_port = int(env.get("AGENT_DESK_PORT", defaults.desk_port))
            rasa_port = int(env.get("RASA_PORT", "5005"))
            llm_timeout = float(env.get("LLM_TIMEOUT_S", defaults.llm_timeout_s))
            llm_retries = int(env.get("LLM_MAX_RETRIES", defaults.llm_retries))
            max_single = Decimal(
                env.get(
                    "FINASSIST_MAX_SINGLE_TRANSFER", str(defaults.max_single_transfer)
                )
            )
        except (ValueError, InvalidOperation) as exc:
            raise SettingsError(f"malformed numeric setting: {exc}") from exc
        if ttl <= 0 or max_single <= 0 or agents <= 0:
            raise SettingsError(
                "token TTL, transfer maximum and agents online must be positive"
            )
        action_token = env.get("ACTION_SERVER_TOKEN", "").strip()
        if app_env == "production" and len(action_token) < 32:
            raise SettingsError(
                "ACTION_SERVER_TOKEN must be a random value of 32+ characters "
                "in production"
            )
        try:
            actions_port = int(env.get("ACTIONS_PORT", defaults.actions_port))
        except ValueError as exc:
            raise SettingsError(f"malformed numeric setting: {exc}") from exc
        max_chars, per_minute = message_limits(env)
        try:
            webchat_port = int(env.get("WEBCHAT_PORT", defaults.webchat_port))
        except ValueError as exc:
            raise SettingsError(f"malformed numeric setting: {exc}") from exc
        desk_token = env.get("AGENT_DESK_TOKEN", "").strip()
        admin_token = env.get("ADMIN_API_TOKEN", "").strip()
        # Erasure is irreversible: an agent's token must never also be an admin's.
        if admin_token and admin_token == desk_token:
            raise SettingsError("ADMIN_API_TOKEN must differ from AGENT_DESK_TOKEN")
        compliance_token = env.get("COMPLIANCE_TOKEN", "").strip()
        if compliance_token and compliance_token in (desk_token, admin_token):
            raise SettingsError(
                "COMPLIANCE_TOKEN must differ from AGENT_DESK_TOKEN and ADMIN_API_TOKEN"
            )
        return cls(
            env=app_env,
            database_url=env.get("DATABASE_URL", "").strip() or defaults.database_url,
            jwt_secret=secret,
            token_ttl_minutes=ttl,
            timezone=env.get("FINASSIST_TZ", defaults.timezone),
            max_single_transfer=max_single,
            # Impersonation through `rasa shell` is for testers, never production.
            shell_identity=app_env != "production"
            and env.get("FINASSIST_SHELL_IDENTITY", "true").lower() != "false",
            log_level=env.get("FINASSIST_LOG_LEVEL", defaults.log_level).upper(),
            agents_online=agents,
            desk_port=desk_port,
            desk_token=desk_token,
            admin_token=admin_token,
            compliance_token=compliance_token,
            tracker_db_url=env.get("TRACKER_DB_URL", "").strip()
            or defaults.tracker_db_url,
            rasa_url=env.get("RASA_URL", "").strip().rstrip("/")
            or f"http://127.0.0.1:{rasa_port}",
            rasa_api_token=env.get("RASA_API_TOKEN", "").strip(),
            llm_base_url=env.get("LLM_BASE_URL", "").strip(),
            llm_model=env.get("LLM_MODEL", "").strip(),
            llm_api_key=env.get("LLM_API_KEY", "").strip(),
            llm_timeout_s=llm_timeout,
            llm_retries=max(0, llm_retries),
            llm_local_model_path=env.get("LLM_LOCAL_MODEL_PATH", "").strip(),
            action_server_token=action_token,
            actions_host=env.get("ACTIONS_HOST", "").strip() or defaults.actions_host,
            actions_port=actions_port,
            max_message_chars=max_chars,
            rate_limit_per_minute=per_minute,
            webchat_port=webchat_port,
            webchat_rasa_url=env.get("WEBCHAT_RASA_URL", "").strip().rstrip("/")
            or f"http://127.0.0.1:{rasa_port}",
            # The demo identity provider signs tokens for anyone: never in production.
            demo_login=app_env != "production"
            and env.get("WEBCHAT_DEMO_LOGIN", "true").lower() != "false",
        )


def socketio_redis_url(env: Mapping[str, str] = os.environ) -> str | None:
    """Where the Rasa server's socket.io workers and replicas share their clients.

    `SOCKETIO_REDIS_URL` (``redis://[:password@]host:port/db``): a message for a web
    customer (an agent's reply sent through any replica) reaches the worker holding
    that customer's connection. Unset: one process, nothing shared (development).

    Raises:
        SettingsError: the value is not a redis:// or rediss:// URL.
    """
    url = env.get("SOCKETIO_REDIS_URL", "").strip()
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://")):
        raise SettingsError("SOCKETIO_REDIS_URL must be a redis:// or rediss:// URL")
    return url


def message_limits(env: Mapping[str, str] = os.environ) -> tuple[int, int]:
    """The customer-message limits alone: longest message, messages per minute.

    The Rasa server's channels read only these, so it needs none of the action
    server's secrets.

    Raises:
        SettingsError: a value is malformed or not positive.
    """
    try:
        max_chars = int(
            env.get("FINASSIST_MAX_MESSAGE_CHARS", Settings.max_message_chars)
        )
        per_minute = int(
            env.get("FINASSIST_RATE_LIMIT_PER_MIN", Settings.rate_limit_per_minute)
        )
    except ValueError as exc:
        raise SettingsError(f"malformed numeric setting: {exc}") from exc
    if max_chars <= 0 or per_minute <= 0:
        raise SettingsError("message limit and rate limit must be positive")
    return max_chars, per_minute


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once from the environment."""
    return Settings.from_env()
