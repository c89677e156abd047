"""The default agent: a pipeline over the catalog, no LLM, deterministic, fast.

normalize → understand (agent/understand.py) → plan (agent/plan.py: programs, facts bound once, items) → execute and
render (agent/render.py: each calculation once, what matters first) → guard (agent/guard.py, enforced: an answer
that fails it is repaired or replaced, never sent as is).
"""
from __future__ import annotations

import copy
import datetime as dt
import logging
import re
import threading
from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping

from agent import guard
from agent.compose import Citations
from agent.execute import PolicyTools
from agent.facts import fact_read, json_value, normalize_value
from agent.plan import Planner
from agent.render import Renderer, Turn
from agent.session import SessionState, SessionStore
from agent.understand import Reader, check_input
from tools.catalog import PolicyCatalog
from tools.errors import InvalidFactError, PolicyError
from tools.money import format_yuan
from tools.schema import Answer, FactRead

log = logging.getLogger("policy_assistant.agent")

_NEGATIVE_MONEY = re.compile(r"(?:-|－|−|负)\s*[\d一二两三四五六七八九十百千][\d,.一二两三四五六七八九十百千]*\s*(?:万|元|亿|块)")
_LATIN_MONEY = re.compile(r"(?<![A-Za-z])([A-Za-z]{1,8})\s*(?:万元|万|元|亿)(?![A-Za-z])")
INTERNAL_ERROR_TEXT = "抱歉，处理这个问题时出现内部错误，已记录。请换个说法，或直接说明地区、补助项目和相关金额。"
NOTHING_TO_CORRECT_TEXT = "没有可更正的回答：请先提问{example}，再修改读到的信息。"  # the example is the lexicon's
GUARD_FALLBACK = "抱歉，这个回答未能通过数字核对，为避免给出无法溯源的金额，请换个说法或直接说明补助项目和金额。"
FIRST_TURN_CACHE = 512  # opening questions remembered, with their answers once asked twice (a few MB)


class OfflineAssistant:
    """Understanding → plan → render → guard over one catalog; the agent that answers when no LLM is configured."""

    def __init__(self, settings, catalog: PolicyCatalog | None = None, retriever_factory: Callable[[], Any] | None = None,
                 sessions: SessionStore | None = None):
        if catalog is None:
            from tools.catalog import default_catalog

            catalog = default_catalog()
        self.settings = settings
        self.catalog = catalog
        self.sessions = sessions or SessionStore()
        self.tools = PolicyTools(catalog, retriever_factory)
        self.reader = Reader(catalog)
        self.planner = Planner(catalog, self.reader, self.tools)
        self.renderer = Renderer(catalog, self.tools, self.planner)
        # An opening question's answer depends only on the question, the as-of date and the index build served (the
        # catalog is this agent's): the same question opening another conversation gets a copy of the answer and of
        # the memory it left, instead of being answered again (hotline FAQs, widget suggestions). A question is kept
        # from its second time on, so questions asked once cost no copies.
        self._first_turns: OrderedDict[tuple, tuple[Answer, SessionState] | None] = OrderedDict()
        self._first_turns_lock = threading.Lock()

    @property
    def retriever(self):
        return self.tools.retriever

    # --- conversation memory as data (a server keeps it in its store; any process can continue) -----------------
    def export_session(self, session_id: str) -> dict[str, Any] | None:
        """The session's memory (region, programs, facts, last intent) as plain data; None if there is none."""
        state = self.sessions.peek(session_id)
        return state.to_dict() if state is not None else None

    def import_session(self, session_id: str, data: dict[str, Any]) -> None:
        """Continue `session_id` from exported memory (replaces what this process remembered of it)."""
        self.sessions.restore({**data, "session_id": session_id})

    def reset(self, session_id: str) -> None:
        """Forget a session (its conversation was deleted)."""
        self.sessions.drop(session_id)

    def warm_up(self) -> None:
        """Open and warm the retriever, then answer the lexicon's example questions once in a throwaway session,
        so the first real question (with or without retrieval) finds every table loaded and pattern compiled."""
        retriever = self.retriever  # None when the index cannot be opened: answers then come from the rules
        if retriever is not None and hasattr(retriever, "warm_up"):
            retriever.warm_up()
        session_id = f"warm-up-{SessionStore.new_id()}"
        examples = self.catalog.lexicon.words.examples
        for key in ("question", "conditions", "program", "search"):
            if examples.get(key):
                self.ask(examples[key], session_id=session_id)
        self.sessions.drop(session_id)

    def ask_stream(self, question: str | None, *, session_id: str | None = None, as_of: dt.date | None = None,
                   facts_override: Mapping[str, Any] | None = None) -> Iterator[dict]:
        answer = self.ask(question, session_id=session_id, as_of=as_of, facts_override=facts_override)
        text = answer.answer
        for i in range(0, len(text), 24):
            yield {"type": "token", "text": text[i:i + 24]}
        yield {"type": "answer", "answer": answer}

    def ask(self, question: str | None, *, session_id: str | None = None, as_of: dt.date | None = None,
            facts_override: Mapping[str, Any] | None = None) -> Answer:
        """Answer `question` in the session. `facts_override` (fact name → value as a person types it; None removes
        the fact) corrects the facts read: with a question, that question is answered with them; without one
        (`question=None`), the session's last question is recomputed with them, through the calculator."""
        as_of = as_of or self.settings.today()
        state = self.sessions.get(session_id)
        recompute = question is None
        if recompute:
            question = state.last_question
            if not question:
                example = self.catalog.lexicon.words.examples.get("question")
                text = NOTHING_TO_CORRECT_TEXT.format(example=f"（例如“{example}”）" if example else "")
                return Answer(question="", answer=text, status="needs_info",
                              session_id=state.session_id, error="nothing_to_correct")
        problem = check_input(question, self.settings.max_question_chars, self.catalog.lexicon.words.examples)
        if problem:
            text = question if isinstance(question, str) else ""
            return Answer(question=text[:200], answer=problem.message, status=problem.status,  # type: ignore[arg-type]
                          session_id=state.session_id, error=problem.code)
        try:
            overrides = self.normalize_overrides(facts_override or {})
        except PolicyError as exc:
            return Answer(question=question, answer=exc.message_zh, status="needs_info", session_id=state.session_id,
                          error=exc.code)
        key = self._first_turn_key(question, as_of) if state.blank and not recompute and not overrides else None
        if key is not None:
            opened = self._opened(key, state.session_id)
            if opened is not None:
                return opened
        before = (state.last_question, dict(state.corrections))
        state.corrections = {**state.corrections, **overrides} if recompute else overrides
        state.last_question = question
        turn = Turn(as_of=as_of, cites=Citations(self.catalog))
        try:
            status, text = self._answer(question, state, turn)
        except PolicyError as exc:
            if overrides:  # a refused correction leaves the conversation as it was
                state.last_question, state.corrections = before
            return Answer(question=question, answer=exc.message_zh, status="needs_info", session_id=state.session_id,
                          error=exc.code)
        except Exception as exc:  # a bug must not reach the user as a traceback; the evals count these as errors
            from index.build import IndexCorrupt

            if isinstance(exc, IndexCorrupt):
                raise  # the service's state, not this question's fault: the API answers 503 with its Chinese message
            # type and frames only: the question (company names, credit codes, phone numbers) stays out of the log
            log.exception("offline agent failed: %s", type(exc).__name__)
            return Answer(question=question, answer=INTERNAL_ERROR_TEXT, status="not_found", session_id=state.session_id,
                          error="internal_error")
        state.turns += 1
        answer = Answer(question=question, answer=text, status=status,  # type: ignore[arg-type]
                        citations=turn.cites.items, calculations=turn.calculations, totals=turn.totals,
                        validity=list(turn.validity.values()), session_id=state.session_id,
                        facts_read=turn.facts_read,
                        facts_override={n: json_value(v) for n, v in overrides.items()} if overrides else None)
        answer = self._guarded(answer, turn)
        if key is not None:
            self._keep_first_turn(key, answer, state)
        return answer

    def _keep_first_turn(self, key: tuple, answer: Answer, state: SessionState) -> None:
        with self._first_turns_lock:
            asked_before = key in self._first_turns
            self._first_turns[key] = None
            self._first_turns.move_to_end(key)
            while len(self._first_turns) > FIRST_TURN_CACHE:
                self._first_turns.popitem(last=False)
        if asked_before:
            kept = (answer.model_copy(deep=True), copy.deepcopy(state))
            with self._first_turns_lock:
                if key in self._first_turns:
                    self._first_turns[key] = kept

    def _first_turn_key(self, question: str, as_of: dt.date) -> tuple | None:
        """What an opening answer depends on: the question, the as-of date and the index build searched now (None
        before this process searched at all: nothing is opened for it); None when no build can be served now (such
        answers are not kept)."""
        try:
            build = self.tools.serving_build()
        except Exception:  # noqa: BLE001 - the index is unavailable: the answer says so, and is not kept
            return None
        return question, as_of, build

    def _opened(self, key: tuple, session_id: str) -> Answer | None:
        """The answer an opening question got before, for conversation `session_id`, which now remembers what that
        conversation did; None if the question has not opened a conversation yet."""
        with self._first_turns_lock:
            hit = self._first_turns.get(key)
            if hit is None:  # not asked before, or only once
                return None
            self._first_turns.move_to_end(key)
        answer, state = hit
        memory = copy.deepcopy(state)
        memory.session_id = session_id
        self.sessions.put(memory)
        return answer.model_copy(deep=True, update={"session_id": session_id})

    def recompute(self, session_id: str, facts_override: Mapping[str, Any], *, as_of: dt.date | None = None) -> Answer:
        """The session's last question again, with corrected facts (a fact chip, `facts_override`)."""
        return self.ask(None, session_id=session_id, as_of=as_of, facts_override=facts_override)

    def normalize_overrides(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Fact name → value in the binder's form (None removes); unknown names and unreadable values are refused
        with a Chinese message naming what was sent."""
        vocab = self.catalog.facts
        out: dict[str, Any] = {}
        for name, raw in overrides.items():
            fd = vocab.get(str(name))
            if fd is None or fd.derived:
                raise InvalidFactError(f"没有名为“{name}”的可更正信息。请使用回答中 facts_read 列出的事实名（fact）。",
                                       code="unknown_fact")
            if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
                out[fd.name] = None
                continue
            out[fd.name] = normalize_value(fd, raw)
        return out

    # ------------------------------------------------------------------------------------------------------------
    def _answer(self, question: str, state: SessionState, turn: Turn) -> tuple[str, str]:
        u = self.reader.understand(question, turn.as_of)
        self._reject_bad_amounts(u.text)
        plan = self.planner.plan(u, state, turn.as_of)
        status, text = self.renderer.render(plan, u, state, turn)
        turn.facts_read = self._facts_read(plan)
        turn.retrieved.update(plan.retrieved)
        if u.english and status in ("answered", "needs_info"):
            text += "\n\n" + self._english_summary(turn)
        return status, text

    def _facts_read(self, plan) -> list[FactRead]:
        """The facts the calculations used, in the order a person reads them: this question's (in question order),
        corrected ones, those carried from earlier turns, then those presumed by a rule."""
        if plan.kind not in ("calculate", "profile"):
            return []
        vocab = self.catalog.facts
        rank = {"question": 0, "corrected": 1, "earlier_turn": 2}
        used = sorted(((n, m) for n, m in plan.mentions.items() if m.value is not None and n in vocab),
                      key=lambda nm: (rank.get(nm[1].origin, 3), nm[1].span[0] if nm[1].span else 10**6))
        out = [fact_read(vocab[n], m, m.origin) for n, m in used]
        return out + [fact_read(vocab[n], None, "assumed", True) for n in plan.presumed_names]

    def _reject_bad_amounts(self, text: str) -> None:
        m = _NEGATIVE_MONEY.search(text)
        if m:
            raise InvalidFactError(f"金额不能为负数（您输入的是“{m.group(0)}”）。请提供实际发生的金额（用正数填写，单位万元或元）。",
                                   code="invalid_number")
        allowed = {w.lower() for w in self.catalog.lexicon.words.latin_terms}
        for m in _LATIN_MONEY.finditer(text):
            if m.group(1).lower() not in allowed:
                raise InvalidFactError(f"无法识别金额“{m.group(0)}”。请用阿拉伯数字或中文数字填写金额，并写明单位万元或元。",
                                       code="invalid_number")

    def _english_summary(self, turn: Turn) -> str:
        prefix = self.catalog.lexicon.words.english_summary_prefix
        paid = [c for c in turn.calculations if c.amount_yuan and c.eligible is not False]
        if paid:
            parts = "; ".join(f"{c.program_id}: up to {format_yuan(c.amount_yuan)}" for c in paid)
            return f"{prefix}: {parts} (ceilings under the cited clauses; see the Chinese answer for conditions and dates)."
        if any(c.eligible is False for c in turn.calculations):
            return f"{prefix}: not eligible on the facts given; the failed condition is quoted above."
        return f"{prefix}: see the Chinese answer above for the cited clauses and what else is needed."

    def _guarded(self, answer: Answer, turn: Turn) -> Answer:
        """The guard is enforced: an answer that fails it is repaired (untraceable sentences dropped) or replaced."""
        args = ([*answer.calculations, *answer.totals], turn.cites.ids | turn.retrieved, turn.evidence)
        problems = guard.check(answer.answer, answer.citations, *args, clauses=self.catalog.clauses)
        if not problems:
            return answer
        log.warning("offline answer failed the guard: %s", problems)
        log.debug("unguarded answer: %s", answer.answer)
        repaired = guard.repair(answer.answer, answer.citations, *args, clauses=self.catalog.clauses)
        if repaired is not None:
            text, citations = repaired
            if not guard.check(text, citations, *args, clauses=self.catalog.clauses):
                return answer.model_copy(update={"answer": text, "citations": citations})
        return answer.model_copy(update={"answer": GUARD_FALLBACK, "citations": [], "calculations": [],
                                         "status": "not_found", "error": "guard_failed"})
