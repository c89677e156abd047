"""The tools both agents call, over one catalog: search, get clause, list programs, calculate, check eligibility.

`PolicyTools` is the executor of a plan's calls: the offline agent's planner asks it for calculations (each computed
once per turn), the LLM agent's LangChain tools wrap the same methods. Everything it returns is data for the renderer
or the model; nothing here writes Chinese prose beyond what the calculator produces.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any, Callable

from tools.catalog import PolicyCatalog
from tools.schema import Calculation


class PolicyTools:
    """Retrieval (built lazily by `retriever_factory`), clauses, programs, the calculator and the eligibility check."""

    def __init__(self, catalog: PolicyCatalog, retriever_factory: Callable[[], Any] | None = None):
        self.catalog = catalog
        self._retriever_factory = retriever_factory
        self._retriever: Any = None
        self._retriever_failed = False
        self._lock = threading.Lock()

    @property
    def retriever(self):
        """The retriever, or None when it cannot be opened (answers then come from the rules alone)."""
        if self._retriever is None and not self._retriever_failed and self._retriever_factory is not None:
            with self._lock:
                if self._retriever is None and not self._retriever_failed:
                    try:
                        self._retriever = self._retriever_factory()
                    except Exception:
                        import logging

                        self._retriever_failed = True
                        logging.getLogger("policy_assistant.agent").exception(
                            "retriever unavailable; answering from rules only")
        return self._retriever

    def serving_build(self) -> str | None:
        """The index build searches go to now, or None when this process has not opened one (nothing is opened
        here: a one-shot question that needs no search never loads the index)."""
        retriever = self._retriever
        if retriever is None or not getattr(retriever, "opened", True):
            return None
        return getattr(retriever, "build_id", None)

    # --- tools -----------------------------------------------------------------------------------------------------
    def search(self, query: str, *, k: int = 5, region: str | None = None, doc_id: str | None = None):
        retriever = self.retriever
        if retriever is None:
            return None
        return retriever.search(query, k=k, region=region, doc_id=doc_id)

    def clause(self, clause_id: str):
        return self.catalog.clauses.get(clause_id)

    def programs(self) -> list[dict]:
        return self.catalog.program_summaries()

    def program_inputs(self, program_id: str) -> dict[str, Any]:
        """The formula in words and the facts a program needs (name, label, unit, choices)."""
        from tools.calculator import describe_formula, program_facts

        facts = [{"name": f["name"], "label": f["label"], "unit": f["unit"],
                  **({"choices": [c["key"] + "=" + c["label"] for c in f["choices"]]} if f["choices"] else {}),
                  **({"optional": True} if f["optional"] else {})}
                 for f in program_facts(program_id, self.catalog)]
        return {"formula": describe_formula(program_id, self.catalog), "facts": facts}

    def calculate(self, program_id: str, facts: dict[str, Any], as_of: dt.date) -> Calculation:
        from tools.calculator import calculate

        return calculate(program_id, facts, as_of, self.catalog)

    def eligibility(self, profile: dict[str, Any], as_of: dt.date):
        from tools.eligibility import check_eligibility

        return check_eligibility(profile, as_of, self.catalog)


class TurnCalculator:
    """Calculations of one turn, each (program, facts) computed once."""

    def __init__(self, tools: PolicyTools, as_of: dt.date):
        self.tools = tools
        self.as_of = as_of
        self._memo: dict[str, Calculation] = {}

    def __call__(self, program_id: str, facts: dict[str, Any]) -> Calculation:
        key = program_id + "|" + json.dumps(facts, sort_keys=True, ensure_ascii=False, default=str)
        if key not in self._memo:
            self._memo[key] = self.tools.calculate(program_id, facts, self.as_of)
        return self._memo[key]
