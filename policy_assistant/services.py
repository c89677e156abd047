"""The service container: the one place that builds the roles from settings and wires them together.

UI handlers, HTTP routes, the CLI and the evals call these methods and nothing deeper. Every component is
built lazily on first use, so importing this module (or constructing `Services`) is cheap.
"""
from __future__ import annotations

import datetime as dt
import threading
from functools import cached_property
from typing import Any, Iterator

from policy_assistant.settings import Settings
from tools.schema import Answer, Calculation


class Services:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self._lock = threading.RLock()

    # --- components (lazy) -------------------------------------------------------------------------
    @cached_property
    def catalog(self):
        """Everything known about the policy documents (tools.catalog.PolicyCatalog), loaded from the corpus."""
        from tools.catalog import PolicyCatalog

        with self._lock:
            return PolicyCatalog.load(self.settings.corpus_dir, self.settings.extra_corpus_dirs)

    @cached_property
    def retriever(self):
        """index.retriever.HybridRetriever over the built index (see index/)."""
        from index import open_retriever

        with self._lock:
            return open_retriever(self.settings)

    @cached_property
    def assistant(self):
        """The offline agent by default; the LLM agent (guarded, falling back to offline) when configured."""
        from agent import build_assistant

        with self._lock:
            return build_assistant(self.settings, self.catalog, retriever_factory=lambda: self.retriever)

    # --- operations -----------------------------------------------------------------------------------
    def as_of(self, as_of: dt.date | None) -> dt.date:
        return as_of or self.settings.today()

    def ask(self, question: str, *, session_id: str | None = None, as_of: dt.date | None = None) -> Answer:
        return self.assistant.ask(question, session_id=session_id, as_of=self.as_of(as_of))

    def ask_stream(self, question: str, *, session_id: str | None = None, as_of: dt.date | None = None) -> Iterator[dict]:
        """Yields {"type": "token", "text": str} events, then one {"type": "answer", "answer": Answer}."""
        return self.assistant.ask_stream(question, session_id=session_id, as_of=self.as_of(as_of))

    def calculate(self, program_id: str, facts: dict[str, Any], *, as_of: dt.date | None = None) -> Calculation:
        """Facts may be strings as users type them ("80万", "百分之三十", "是"); parsed by tools."""
        from tools.calculator import calculate

        return calculate(program_id, facts, self.as_of(as_of), self.catalog)

    def eligibility(self, profile: dict[str, Any], *, as_of: dt.date | None = None):
        from tools.eligibility import check_eligibility

        return check_eligibility(profile, self.as_of(as_of), self.catalog)

    def programs(self) -> list[dict]:
        return self.catalog.program_summaries()

    def search(self, query: str, *, k: int = 5, region: str | None = None, doc_id: str | None = None,
               in_force_on: dt.date | None = None):
        return self.retriever.search(query, k=k, region=region, doc_id=doc_id, in_force_on=in_force_on)

    def documents(self, *, as_of: dt.date | None = None) -> list[dict]:
        from tools.validity import document_overview

        return document_overview(self.as_of(as_of), self.catalog)
