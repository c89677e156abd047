"""Conversation: the offline agent (default, no LLM) and the optional LLM agent, behind one interface."""
from __future__ import annotations

from typing import Any, Callable


def build_assistant(settings, catalog, retriever_factory: Callable[[], Any]):
    """The one place that picks the agent: offline by default, the guarded LLM agent when configured. A corpus with
    revisions, repeals or dated values gets one per edition of its rules, chosen by each question's as-of date."""
    if catalog.change_dates:
        from agent.editions import EditionAssistant
        from agent.session import SessionStore

        sessions = SessionStore()  # one conversation store across editions
        return EditionAssistant(catalog, lambda edition: _build(settings, edition, retriever_factory, sessions),
                                settings.today)
    return _build(settings, catalog, retriever_factory)


def _build(settings, catalog, retriever_factory, sessions=None):
    from agent.offline import OfflineAssistant

    offline = OfflineAssistant(settings, catalog, retriever_factory=retriever_factory, sessions=sessions)
    if not settings.llm_enabled:
        return offline
    from agent.llm import build_llm_assistant

    return build_llm_assistant(settings, catalog, retriever_factory=retriever_factory, fallback=offline)
