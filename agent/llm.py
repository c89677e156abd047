"""The optional LLM agent: `create_agent` over any OpenAI-compatible chat model, guarded, falling back offline.

A turn runs the model with five tools (agent/lc_tools.py) that record what they return in an evidence ledger.
The model's answer becomes an `Answer` (citations from the ledger, calculations from the calculator), then the
guard checks it. A failing answer gets one repair; if that fails too, or the endpoint errors, the offline agent
answers instead and the event is logged on "policy_assistant.guard".
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from agent import guard
from agent.execute import PolicyTools
from agent.lc_tools import EvidenceLedger, make_tools
from agent.prompts import REFUSAL_MARKERS, REFUSAL_TEXT, system_prompt
from tools.errors import PolicyError
from tools.schema import Answer, Calculation, Citation, Status, Validity

guard_log = logging.getLogger("policy_assistant.guard")

_BRACKET_RE = re.compile(r"\[([^\[\]\n]{1,80})\](?!\()")
_CLAUSE_ID_RE = re.compile(r"^[a-z][a-z0-9-]*:[A-Za-z0-9_.]+$")
_NOT_FOUND_RE = re.compile(
    r"语料(库)?(中|里)?(并)?(不包含|没有|未收录|不涉及|未涉及|不覆盖)|未找到|没有找到|找不到|不在.{0,12}(范围|语料)|"
    r"暂无相关|没有(相关|关于).{0,10}(政策|条款|规定|文件)")
_THINK_RE = re.compile(r"<think>.*?</think>\s*", re.S)
_FULLWIDTH_MARKER_RE = re.compile(r"【(\d+(?:[,，、]\s*\d+)*)】")
_ASK_RE = re.compile(r"请(提供|告知|告诉我|补充|说明)|请问(您|贵)")


class LLMNotConfiguredError(RuntimeError):
    pass


def make_chat_model(settings):
    """The one place a chat model is built: ChatOpenAI against any OpenAI-compatible endpoint.

    The API key is read from the environment variable named by `settings.llm_api_key_env`, never logged.
    """
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    api_key = os.environ.get(settings.llm_api_key_env)
    if not (settings.llm_base_url and settings.llm_model and api_key):
        raise LLMNotConfiguredError(
            f"LLM not configured: need llm_base_url, llm_model and the {settings.llm_api_key_env} variable")
    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=SecretStr(api_key),
        timeout=settings.llm_timeout_s,
        max_retries=1,
        temperature=0,
        stream_usage=False,  # some OpenAI-compatible servers reject stream_options
    )


@dataclass
class _Session:
    history: deque
    ledger: EvidenceLedger = field(default_factory=EvidenceLedger)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_question: str | None = None  # what a correction (facts_override) recomputes


def _injection_check(catalog) -> Callable[[str], bool]:
    """The offline agent's detector (the catalog's injection patterns), so both agents refuse the same requests."""
    from agent.understand import Reader

    reader = Reader(catalog)
    return lambda text: reader.is_injection(reader.normalize(text))


class LLMAssistant:
    """Same interface as the offline agent: `.ask(...) -> Answer`, `.ask_stream(...)` yielding token/answer events."""

    def __init__(
        self,
        chat_model,
        backend: PolicyTools,
        *,
        fallback,
        max_history_turns: int = 6,
        max_sessions: int = 1000,
        max_question_chars: int = 2000,
        recursion_limit: int = 25,
        api_key_env: str | None = None,
        injection_check: Callable[[str], bool] | None = None,
    ):
        self.chat_model = chat_model
        self.backend = backend
        self.fallback = fallback
        self.max_history_turns = max_history_turns
        self.max_sessions = max_sessions
        self.max_question_chars = max_question_chars
        self.recursion_limit = recursion_limit
        self.api_key_env = api_key_env
        self.injection_check = injection_check or _injection_check(backend.catalog)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._sessions_lock = threading.Lock()

    # --- public interface ---------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """The fallback (offline) agent warms the retriever and the pipeline; the chat model needs nothing."""
        warm = getattr(self.fallback, "warm_up", None)
        if callable(warm):
            warm()

    def ask(self, question: str | None, *, session_id: str | None = None, as_of: dt.date | None = None,
            facts_override=None) -> Answer:
        answer = None
        for event in self.ask_stream(question, session_id=session_id, as_of=as_of, facts_override=facts_override):
            if event["type"] == "answer":
                answer = event["answer"]
        assert answer is not None
        return answer

    def ask_stream(self, question: str | None, *, session_id: str | None = None,
                   as_of: dt.date | None = None, facts_override=None) -> Iterator[dict]:
        """Yields {"type": "token", "text"} while the model writes, then {"type": "answer", "answer": Answer}.

        The final answer is authoritative: if the guard repairs or replaces what was streamed, it differs. Corrected
        facts (`facts_override`) are never handed to the model: the offline pipeline recomputes with them through the
        calculator (`question=None` recomputes the session's last question).
        """
        as_of = as_of or dt.date.today()
        session_id = session_id or uuid.uuid4().hex
        if facts_override is not None:
            session = self._session(session_id)
            offline = getattr(self.fallback, "sessions", None)
            offline_state = offline.peek(session_id) if offline is not None else None
            if question is None and not (offline_state and offline_state.last_question == session.last_question):
                question = session.last_question  # the offline pipeline has not seen it: ask it with the corrections
            answer = self.fallback.ask(question, session_id=session_id, as_of=as_of, facts_override=facts_override)
            if not answer.error:
                self._remember(session, answer.question, answer.answer)
            yield {"type": "token", "text": answer.answer}
            yield {"type": "answer", "answer": answer}
            return
        if question is None:
            question = ""
        text = question if isinstance(question, str) else ""
        if not text.strip() or len(text) > self.max_question_chars:
            answer = self.fallback.ask(question, session_id=session_id, as_of=as_of)
            yield {"type": "token", "text": answer.answer}
            yield {"type": "answer", "answer": answer}
            return
        if self.injection_check(text):
            answer = Answer(question=text, answer=REFUSAL_TEXT, status="refused", session_id=session_id)
            yield {"type": "token", "text": answer.answer}
            yield {"type": "answer", "answer": answer}
            return
        session = self._session(session_id)
        with session.lock:
            yield from self._turn(text, session_id, session, as_of)

    def reset(self, session_id: str) -> None:
        with self._sessions_lock:
            self._sessions.pop(session_id, None)

    # --- one turn -----------------------------------------------------------------------------------------
    def _turn(self, question: str, session_id: str, session: _Session, as_of: dt.date) -> Iterator[dict]:
        from langchain.agents import create_agent
        from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

        ledger = session.ledger
        ledger.start_turn()
        streamed = False
        final_state: dict[str, Any] | None = None
        try:
            agent = create_agent(self.chat_model, make_tools(self.backend, ledger, as_of),
                                 system_prompt=system_prompt(as_of, self.backend.catalog))
            inputs = {"messages": [*session.history, HumanMessage(question)]}
            for mode, chunk in agent.stream(inputs, {"recursion_limit": self.recursion_limit},
                                            stream_mode=["messages", "values"]):
                if mode == "messages":
                    message, metadata = chunk
                    if isinstance(message, AIMessageChunk) and metadata.get("langgraph_node") == "model":
                        token = message.text
                        if token:
                            streamed = True
                            yield {"type": "token", "text": token}
                else:
                    final_state = chunk
            final = final_state["messages"][-1] if final_state else None
            if not isinstance(final, AIMessage) or final.tool_calls:
                raise RuntimeError("the model ended without a final answer")
            raw_text = _THINK_RE.sub("", final.text).strip()  # some endpoints inline their reasoning
            if not raw_text:
                raise RuntimeError("the model's final answer is empty")
        except Exception as exc:  # endpoint down, timeout, malformed tool calls, recursion limit, ...
            guard_log.warning(
                "LLM agent failed (%s: %s); answering with the offline agent", type(exc).__name__,
                self._redact(str(exc))[:500], extra={"event": "llm_error", "session_id": session_id})
            yield from self._fallback(question, session_id, as_of, streamed)
            return

        try:
            answer = self._guarded(self._build_answer(question, raw_text, ledger, session_id, as_of), ledger, as_of)
        except Exception:  # a bug here must not reach the user: the offline agent still answers
            guard_log.exception("checking the LLM answer failed; answering with the offline agent",
                                extra={"event": "guard_error", "session_id": session_id})
            answer = None
        if answer is None:
            yield from self._fallback(question, session_id, as_of, streamed)
            return
        self._remember(session, question, answer.answer)
        if not streamed:
            yield {"type": "token", "text": answer.answer}
        yield {"type": "answer", "answer": answer}

    def _guarded(self, answer: Answer, ledger: EvidenceLedger, as_of: dt.date) -> Answer | None:
        """The answer if it passes the guard, else its one repair if that passes, else None (use the fallback)."""
        args = (answer.calculations, ledger.retrieved_ids, ledger.texts, self.backend.catalog.clauses)
        problems = guard.check(answer.answer, answer.citations, *args)
        if not problems:
            return answer
        guard_log.warning("LLM answer failed the guard: %s", "; ".join(problems),
                          extra={"event": "guard_failed", "problems": problems, "session_id": answer.session_id})
        repaired = guard.repair(answer.answer, answer.citations, *args)
        if repaired is not None:
            text, citations = repaired
            remaining = guard.check(text, citations, *args)
            if not remaining:
                guard_log.info("LLM answer repaired", extra={"event": "guard_repaired", "problems": problems,
                                                             "session_id": answer.session_id})
                return answer.model_copy(update={
                    "answer": text, "citations": citations,
                    "validity": self._validity(answer.calculations, citations, as_of)})
            problems = remaining
        guard_log.warning("LLM answer replaced by the offline agent: %s", "; ".join(problems),
                          extra={"event": "guard_fallback", "problems": problems, "session_id": answer.session_id})
        return None

    def _fallback(self, question: str, session_id: str, as_of: dt.date, streamed: bool) -> Iterator[dict]:
        answer = self.fallback.ask(question, session_id=session_id, as_of=as_of)
        session = self._session(session_id)
        self._remember(session, question, answer.answer)
        if not streamed:
            yield {"type": "token", "text": answer.answer}
        yield {"type": "answer", "answer": answer}

    # --- building the Answer ------------------------------------------------------------------------------
    def _build_answer(self, question: str, raw_text: str, ledger: EvidenceLedger, session_id: str,
                      as_of: dt.date) -> Answer:
        text, citations = resolve_citations(raw_text, ledger)
        calculations = list(ledger.calculations)
        return Answer(
            question=question,
            answer=text,
            status=infer_status(text, citations, calculations),
            citations=citations,
            calculations=calculations,
            validity=self._validity(calculations, citations, as_of),
            session_id=session_id,
            facts_read=self._facts_read(ledger),
        )

    def _facts_read(self, ledger: EvidenceLedger) -> list:
        """The facts the model handed the calculator, as the calculator read them (no words of the question: the
        model chose them)."""
        from agent.facts import fact_read, normalize_value

        vocab = self.backend.catalog.facts
        out = []
        for name, raw in ledger.facts.items():
            fd = vocab.get(name)
            if fd is None or raw is None:
                continue
            try:
                out.append(fact_read(fd, None, "question", normalize_value(fd, raw)))
            except PolicyError:
                continue
        return out

    def _validity(self, calculations: list[Calculation], citations: list[Citation], as_of: dt.date) -> list[Validity]:
        found: dict[str, Validity] = {}
        for calc in calculations:
            if calc.validity is not None:
                found.setdefault(calc.validity.doc_id, calc.validity)
        try:
            from tools.validity import validity_for
        except ImportError:
            return list(found.values())
        for citation in citations:
            doc_id = citation.id.split(":", 1)[0]
            if doc_id not in found:
                try:
                    found[doc_id] = validity_for(doc_id, as_of, self.backend.catalog)
                except (KeyError, ValueError, PolicyError):
                    continue
        return list(found.values())

    # --- sessions -----------------------------------------------------------------------------------------
    def _session(self, session_id: str) -> _Session:
        with self._sessions_lock:
            session = self._sessions.get(session_id)
            if session is None:
                session = _Session(history=deque(maxlen=2 * self.max_history_turns),
                                   ledger=EvidenceLedger(catalog=self.backend.catalog))
                self._sessions[session_id] = session
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(session_id)
            return session

    @staticmethod
    def _remember(session: _Session, question: str, answer_text: str) -> None:
        """Keep the turn as plain text; citation markers are dropped so old numbers never look like refs."""
        from langchain_core.messages import AIMessage, HumanMessage

        session.history.append(HumanMessage(question))
        session.history.append(AIMessage(re.sub(r"\[\d+\]", "", answer_text)))
        session.last_question = question

    def _redact(self, text: str) -> str:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return text.replace(key, "***") if key and len(key) >= 6 else text


def resolve_citations(raw_text: str, ledger: EvidenceLedger) -> tuple[str, list[Citation]]:
    """Turn the model's markers ([ref] or [clause-id]) into citations numbered in order of first appearance.

    A marker the ledger cannot resolve keeps a number past the end of the list, so the guard flags it; a
    corpus clause cited by id without having been retrieved becomes a citation the guard flags as not retrieved.
    """
    raw_text = _FULLWIDTH_MARKER_RE.sub(r"[\1]", raw_text)
    order: list[str] = []
    unresolved: list[str] = []
    outside: dict[str, Citation] = {}

    def classify(token: str) -> str | None:
        """'clause id' for a resolvable marker token, '?token' for an unresolvable one, None if not a marker."""
        if token.isdigit():
            clause_id = ledger.clause_for_ref(int(token))
            return clause_id if clause_id else "?" + token
        if _CLAUSE_ID_RE.match(token):
            if token in ledger.refs:
                return token
            try:
                outside.setdefault(token, Citation.from_clause_id(token))
                return token
            except KeyError:
                return "?" + token
        return None

    def tokens_of(content: str) -> list[str] | None:
        tokens = [t for t in re.split(r"[\s,，、;；]+", content.strip()) if t]
        keys = [classify(t) for t in tokens]
        return None if not tokens or any(k is None for k in keys) else keys  # type: ignore[return-value]

    for m in _BRACKET_RE.finditer(raw_text):
        for key in tokens_of(m.group(1)) or []:
            target = unresolved if key.startswith("?") else order
            if key not in target:
                target.append(key)

    numbers = {key: i for i, key in enumerate(order, start=1)}
    numbers.update({key: len(order) + i for i, key in enumerate(unresolved, start=1)})

    def substitute(m: re.Match) -> str:
        keys = tokens_of(m.group(1))
        if keys is None:
            return m.group(0)
        return "".join(f"[{numbers[k]}]" for k in dict.fromkeys(keys))

    text = _BRACKET_RE.sub(substitute, raw_text)
    citations = [ledger.citations.get(cid) or outside[cid] for cid in order]
    return text, citations


def infer_status(text: str, citations: list[Citation], calculations: list[Calculation]) -> Status:
    """answered / needs_info / not_found / refused, read from what the model wrote and what the tools returned."""
    if any(marker in text for marker in REFUSAL_MARKERS):
        return "refused"
    if calculations and all(c.amount_yuan is None and c.missing for c in calculations):
        return "needs_info"
    if not citations and not calculations:
        if _NOT_FOUND_RE.search(text):
            return "not_found"
        if _ASK_RE.search(text):
            return "needs_info"
    return "answered"


def build_llm_assistant(settings, catalog, retriever_factory: Callable[[], Any], fallback):
    """The guarded LLM agent for `agent.build_assistant`; the fallback itself if no chat model can be built."""
    try:
        chat_model = make_chat_model(settings)
    except Exception as exc:  # misconfiguration must not take the assistant down
        guard_log.warning("LLM agent unavailable (%s); using the offline agent", type(exc).__name__,
                          extra={"event": "llm_unavailable"})
        return fallback
    return LLMAssistant(
        chat_model,
        PolicyTools(catalog, retriever_factory),
        fallback=fallback,
        max_question_chars=settings.max_question_chars,
        api_key_env=settings.llm_api_key_env,
    )
