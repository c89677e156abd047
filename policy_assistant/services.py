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
from tools.schema import Answer, Calculation, Citation


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

    def programs(self, *, region: str | None = None, with_citations: bool = False) -> list[dict]:
        """Program summaries; `region` (e.g. 厦门, 思明区) keeps those whose region path names it, and
        `with_citations` adds each program's clauses as citations (document, 文号, label, verbatim text)."""
        summaries = self.catalog.program_summaries()
        if region and region.strip():
            wanted = _place_stem(region)
            summaries = [p for p in summaries
                         if any(wanted in _place_stem(place) for place in [p["region"], *p["region_path"]])]
        if with_citations:
            summaries = [{**p, "citations": [self.clause(cid) for cid in p["clause_ids"]]} for p in summaries]
        return summaries

    def program_inputs(self, program_id: str) -> dict[str, Any]:
        """What the calculator needs for one program: its formula in words, the facts (name, label, unit, choices)
        and the clauses it implements as citations. Unknown ids raise UnknownProgramError (Chinese message)."""
        from tools.calculator import describe_formula, program_facts

        program = self.catalog.program(program_id)
        return {"program_id": program.id, "program": program.name, "formula": describe_formula(program, self.catalog),
                "facts": program_facts(program.id, self.catalog),
                "citations": [self.clause(cid) for cid in program.clause_ids]}

    def clause(self, clause_id: str) -> Citation:
        """One clause as a citation: document title, 文号, label path, verbatim text."""
        from tools.errors import PolicyError

        try:
            return self.catalog.citation(clause_id.strip())
        except KeyError:
            raise PolicyError(f"没有编号为“{clause_id}”的条款。条款编号形如 xm-measures:1.3、siming:art2，"
                              "可先用检索找到条款。", code="unknown_clause") from None

    def search(self, query: str, *, k: int = 5, region: str | None = None, doc_id: str | None = None,
               in_force_on: dt.date | None = None):
        return self.retriever.search(query, k=k, region=region, doc_id=doc_id, in_force_on=in_force_on)

    def documents(self, *, as_of: dt.date | None = None) -> list[dict]:
        from tools.validity import document_overview

        return document_overview(self.as_of(as_of), self.catalog)


def _place_stem(name: str) -> str:
    """"厦门市" and "厦门" compare equal: drop a trailing 省/市/区/县."""
    name = name.strip()
    return name[:-1] if len(name) > 1 and name[-1] in "省市区县" else name
