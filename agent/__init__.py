"""Conversation: the offline agent (default, no LLM) and the optional LLM agent, behind one interface."""
from __future__ import annotations

from typing import Any, Callable


def build_assistant(settings, catalog, retriever_factory: Callable[[], Any]):
    """The one place that picks the agent: offline by default, the guarded LLM agent when configured."""
    from agent.offline import OfflineAssistant

    offline = OfflineAssistant(settings, catalog, retriever_factory=retriever_factory)
    if not settings.llm_enabled:
        return offline
    from agent.llm import build_llm_assistant

    return build_llm_assistant(settings, catalog, retriever_factory=retriever_factory, fallback=offline)
