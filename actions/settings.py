"""One place that reads the environment: every other module asks `get_settings()`."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from actions.client_address import parse_networks

logger = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The development login-token key is made once per checkout (git-ignored), never a
# value written in the code: a key anyone can read would let anyone sign a token for
# any customer wherever it was left in use. Production refuses it.
DEV_SECRET_FILE = PROJECT_ROOT / ".secrets" / "jwt_secret"
# Keys that were once public (an earlier release had one in its source): refused
# everywhere, so an old `.env` cannot bring them back.
PUBLIC_JWT_SECRETS = frozenset({"finassist-development-secret-never-use-in-production"})
MIN_SECRET_CHARS = 32


class SettingsError(ValueError):
    """The environment describes an unusable configuration."""


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of the action server, the seed command and the tools."""

    env: str = "dev"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'finassist.db'}"
    jwt_secret: str = field(default="", repr=False)
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
    demo_login: bool = False

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
        app_env = app_environment(env)
        secret = jwt_secret(env, app_env)
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
            # The demo identity provider signs tokens for anyone: only when asked for
            # (`make run` does), and never in production.
            demo_login=_demo_login(env, app_env),
        )


def _demo_login(env: Mapping[str, str], app_env: str) -> bool:
    wanted = env.get("WEBCHAT_DEMO_LOGIN", "").strip().lower()
    if wanted not in ("", "true", "false"):
        raise SettingsError("WEBCHAT_DEMO_LOGIN must be true or false")
    if wanted == "true" and app_env == "production":
        raise SettingsError(
            "WEBCHAT_DEMO_LOGIN=true signs tokens for any customer: refused in "
            "production"
        )
    return wanted == "true"


def app_environment(env: Mapping[str, str] = os.environ) -> str:
    """`FINASSIST_ENV`: ``dev`` (the default), ``test`` or ``production``.

    Raises:
        SettingsError: any other value.
    """
    app_env = env.get("FINASSIST_ENV", "dev").strip().lower() or "dev"
    if app_env not in {"dev", "test", "production"}:
        raise SettingsError(
            f"FINASSIST_ENV must be dev, test or production, not {app_env!r}"
        )
    return app_env


def jwt_secret(env: Mapping[str, str] = os.environ, app_env: str | None = None) -> str:
    """The HS256 key of login tokens (`FINASSIST_JWT_SECRET`).

    Production requires a random value of 32+ characters that is not a known public
    one. Elsewhere an unset key is the checkout's own development key, made on first
    use in `.secrets/jwt_secret`, so that the Rasa server, the action server and the
    tools of one checkout agree without any key being written in the code. Where that
    file cannot be written, each process makes its own key and tokens of other
    processes are refused (closed, not open).

    Raises:
        SettingsError: the key is missing, short or public where that is refused.
    """
    app_env = app_env or app_environment(env)
    secret = env.get("FINASSIST_JWT_SECRET", "").strip()
    if secret in PUBLIC_JWT_SECRETS:
        raise SettingsError(
            "FINASSIST_JWT_SECRET is a published development value: set a random one"
        )
    if app_env == "production":
        if len(secret) < MIN_SECRET_CHARS or secret == _read_dev_secret():
            raise SettingsError(
                "FINASSIST_JWT_SECRET must be set to a random value of 32+ characters "
                "in production"
            )
        return secret
    return secret or dev_secret()


def _read_dev_secret() -> str | None:
    try:
        return DEV_SECRET_FILE.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


_PROCESS_SECRET = secrets.token_hex(32)


def dev_secret() -> str:
    """This checkout's development key (made once, readable only by its owner)."""
    existing = _read_dev_secret()
    if existing:
        return existing
    try:
        DEV_SECRET_FILE.parent.mkdir(mode=0o700, exist_ok=True)
        draft = DEV_SECRET_FILE.with_name(f".jwt_secret.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_hex(32))
        try:  # appears whole or not at all; the first of two racing processes wins
            os.link(draft, DEV_SECRET_FILE)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    except OSError:
        logger.warning(
            "cannot write %s: this process signs and accepts only its own tokens",
            DEV_SECRET_FILE,
        )
        return _PROCESS_SECRET
    return _read_dev_secret() or _PROCESS_SECRET


def socketio_redis_url(env: Mapping[str, str] = os.environ) -> str | None:
    """Where the Rasa server's socket.io workers and replicas share their clients.

    `SOCKETIO_REDIS_URL` (``redis://[:password@]host:port/db``): a message for a web
    customer (an agent's reply sent through any replica) reaches the worker holding
    that customer's connection. Unset: one process, nothing shared (development).

    Raises:
        SettingsError: the value is not a redis:// or rediss:// URL.
    """
    return _redis_url(env, "SOCKETIO_REDIS_URL")


def socketio_signing_secret(env: Mapping[str, str] = os.environ) -> str:
    """The secret that signs socket.io messages shared through Redis.

    `SOCKETIO_SIGNING_KEY` (32+ characters, the same on every Rasa replica; Redis
    never sees it). Production requires it: the login-token key is shared with the
    bank's identity provider, which has no business signing socket.io traffic.
    Elsewhere an unset key falls back to the login-token key, which every process of
    a checkout already holds; the channel derives its own key from either, so nothing
    signed here can pass for a login token.

    Raises:
        SettingsError: the key is shorter than 32 characters, missing in production,
            or the login key it falls back to is refused (see `jwt_secret`).
    """
    secret = env.get("SOCKETIO_SIGNING_KEY", "").strip()
    if secret:
        if len(secret) < MIN_SECRET_CHARS or secret in PUBLIC_JWT_SECRETS:
            raise SettingsError("SOCKETIO_SIGNING_KEY needs 32+ random characters")
        return secret
    if app_environment(env) == "production":
        raise SettingsError(
            "SOCKETIO_SIGNING_KEY must be set (32+ random characters, the same on "
            "every Rasa replica) when socket.io is shared through Redis in production"
        )
    return jwt_secret(env)


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


@dataclass(frozen=True)
class ChannelSettings:
    """What the Rasa server's customer channels need, and nothing else.

    The channels verify login tokens (to bind a conversation to its customer) and
    keep the conversation owners next to the conversations (`TRACKER_DB_URL`); they
    need none of the action server's or the desk's secrets.
    """

    env: str = "dev"
    max_chars: int = Settings.max_message_chars
    per_minute: int = Settings.rate_limit_per_minute
    jwt_secret: str = field(default="", repr=False)
    tracker_db_url: str = Settings.tracker_db_url
    # Forwarded headers are read only from these proxies (empty: from nobody).
    trusted_proxies: str = ""
    # Limits shared by every replica; unset: per process (development).
    rate_limit_redis_url: str | None = None
    # Pages allowed to open a socket.io connection (empty: any, development only).
    socketio_origins: tuple[str, ...] = ()
    # The largest request body any client may send (the channels and the HTTP API).
    max_request_bytes: int = 64 * 1024
    # One address may carry several customers (an office, a NAT).
    ip_factor: int = 10
    max_connections_per_ip: int = 50  # open at once
    connects_per_ip_per_minute: int = 120  # new ones
    socket_events_per_minute: int = 120

    @property
    def is_production(self) -> bool:
        """Production requires shared limits and a list of allowed origins."""
        return self.env == "production"


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(env.get(name, "").strip() or default)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be positive")
    return value


def _redis_url(env: Mapping[str, str], name: str) -> str | None:
    url = env.get(name, "").strip()
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://")):
        raise SettingsError(f"{name} must be a redis:// or rediss:// URL")
    return url


def channel_settings(env: Mapping[str, str] = os.environ) -> ChannelSettings:
    """The customer channels' settings, validated.

    Raises:
        SettingsError: a value is malformed, or production lacks shared rate limits
            (`RATE_LIMIT_REDIS_URL`), its allowed web origins (`SOCKETIO_ORIGINS`) or a
            strong token key.
    """
    app_env = app_environment(env)
    max_chars, per_minute = message_limits(env)
    origins = tuple(
        o.strip().rstrip("/")
        for o in env.get("SOCKETIO_ORIGINS", "").split(",")
        if o.strip()
    )
    for origin in origins:
        if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
            raise SettingsError(
                f"SOCKETIO_ORIGINS entries are scheme://host[:port], not {origin!r}"
            )
    proxies = env.get("FINASSIST_TRUSTED_PROXIES", "").strip()
    try:
        parse_networks(proxies)
    except ValueError as exc:
        raise SettingsError(f"FINASSIST_TRUSTED_PROXIES: {exc}") from exc
    settings = ChannelSettings(
        env=app_env,
        max_chars=max_chars,
        per_minute=per_minute,
        jwt_secret=jwt_secret(env, app_env),
        tracker_db_url=env.get("TRACKER_DB_URL", "").strip()
        or ChannelSettings.tracker_db_url,
        trusted_proxies=proxies,
        rate_limit_redis_url=_redis_url(env, "RATE_LIMIT_REDIS_URL"),
        socketio_origins=origins,
        max_request_bytes=_positive_int(
            env, "FINASSIST_MAX_REQUEST_BYTES", ChannelSettings.max_request_bytes
        ),
        max_connections_per_ip=_positive_int(
            env,
            "FINASSIST_MAX_CONNECTIONS_PER_IP",
            ChannelSettings.max_connections_per_ip,
        ),
        connects_per_ip_per_minute=_positive_int(
            env,
            "FINASSIST_CONNECTS_PER_IP_PER_MIN",
            ChannelSettings.connects_per_ip_per_minute,
        ),
    )
    if settings.is_production:
        if not settings.rate_limit_redis_url:
            raise SettingsError(
                "RATE_LIMIT_REDIS_URL is required in production: limits must hold "
                "across replicas"
            )
        if not settings.socketio_origins:
            raise SettingsError(
                "SOCKETIO_ORIGINS is required in production: the web chat's origins"
            )
        if socketio_redis_url(env):
            socketio_signing_secret(env)  # refuses to start without the signing key
    return settings


def action_timeout_s(env: Mapping[str, str] = os.environ) -> float:
    """How long the Rasa server waits for one custom-action call.

    `ACTION_TIMEOUT_S`; by default the language model's whole budget plus 4 s, so a
    slow fallback answer still arrives, and a hung action server costs seconds, not
    Rasa's 300.

    Raises:
        SettingsError: the value is malformed or not positive.
    """
    try:
        llm = float(env.get("LLM_TIMEOUT_S", "").strip() or Settings.llm_timeout_s)
        value = float(env.get("ACTION_TIMEOUT_S", "").strip() or llm + 4.0)
    except ValueError as exc:
        raise SettingsError("ACTION_TIMEOUT_S must be a number of seconds") from exc
    if value <= 0:
        raise SettingsError("ACTION_TIMEOUT_S must be positive")
    return value


def erasure_event_stream(env: Mapping[str, str] = os.environ) -> Any:
    """The event broker an erasure notifies, or None when none is configured.

    The same RabbitMQ as endpoints.production.yml (`RABBITMQ_HOST`, `RABBITMQ_PORT`,
    `RABBITMQ_USER`, `RABBITMQ_PASSWORD`); configured when a user is set.
    """
    from actions.event_stream import RabbitMQStream

    user = env.get("RABBITMQ_USER", "").strip()
    if not user:
        return None
    return RabbitMQStream(
        host=env.get("RABBITMQ_HOST", "").strip() or "127.0.0.1",
        port=_positive_int(env, "RABBITMQ_PORT", 5672),
        username=user,
        password=env.get("RABBITMQ_PASSWORD", ""),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once from the environment."""
    return Settings.from_env()
