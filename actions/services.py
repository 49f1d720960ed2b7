"""Lazily built, cached services shared by the actions (tests swap them)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from actions.knowledge import KnowledgeIndex, load_passages
from actions.llm.client import ChatClient

if TYPE_CHECKING:
    from actions.llm.local import LocalChatModel
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine
from actions.settings import get_settings


@lru_cache(maxsize=1)
def profile_repository() -> ProfileRepository:
    """The profile repository over DATABASE_URL, built on first use."""
    return ProfileRepository(
        make_engine(get_settings().database_url), zone=local_zone()
    )


def local_zone() -> ZoneInfo:
    """The bank's time zone, for "today" and "this month"."""
    return ZoneInfo(get_settings().timezone)


@lru_cache(maxsize=1)
def knowledge_index() -> KnowledgeIndex:
    """The BM25 index of the knowledge base, built once on first use."""
    return KnowledgeIndex(load_passages())


@lru_cache(maxsize=1)
def llm_client() -> ChatClient | LocalChatModel | None:
    """The writer of fallback answers; None means retrieval answers only.

    A local transformers model (LLM_LOCAL_MODEL_PATH) or an OpenAI-compatible server
    (LLM_BASE_URL).
    """
    settings = get_settings()
    if settings.llm_local_model_path:
        from actions.llm.local import LocalChatModel as Local

        return Local(settings.llm_local_model_path, settings.llm_timeout_s)
    if not settings.llm_base_url:
        return None
    return ChatClient(
        settings.llm_base_url,
        settings.llm_model or "default",
        settings.llm_api_key,
        settings.llm_timeout_s,
        settings.llm_retries,
    )
