"""The service container: the one place that builds the roles from settings and wires them together.

UI handlers, HTTP routes, the CLI and the evals call these methods and nothing deeper. Every component is
built lazily on first use, so importing this module (or constructing `Services`) is cheap.
"""
from __future__ import annotations

import datetime as dt
import threading
from functools import cached_property
from typing import Any, Iterator, Mapping

from policy_assistant.conversations import ChatSession, Conversations
from policy_assistant.settings import Settings
from tools.schema import Answer, Calculation, Citation


class Services:
    def __init__(self, settings: Settings | None = None, *, store=None):
        self.settings = settings or Settings.from_env()
        self._lock = threading.RLock()
        if store is not None:
            self.__dict__["store"] = store

    # --- components (lazy) -------------------------------------------------------------------------
    @cached_property
    def catalog(self):
        """Everything known about the policy documents (tools.catalog.PolicyCatalog), loaded from the corpus."""
        from tools.catalog import PolicyCatalog

        with self._lock:
            return PolicyCatalog.load_cached(self.settings.corpus_dir, self.settings.extra_corpus_dirs,
                                             cache_dir=self.settings.data_dir / "cache")

    @cached_property
    def index(self):
        """The served index (index.served.ServedIndex): follows new builds without a restart."""
        from index.served import ServedIndex

        return ServedIndex(self.settings)

    @property
    def retriever(self):
        """The retriever over the build being served now (see index/)."""
        return self.index.current()

    @cached_property
    def assistant(self):
        """The offline agent by default; the LLM agent (guarded, falling back to offline) when configured."""
        from agent import build_assistant

        # the catalog is fetched before taking our lock: on Python 3.11 cached_property holds its own lock while it
        # computes, so a request reading `catalog` while the warm-up builds the assistant would otherwise deadlock
        catalog = self.catalog
        with self._lock:
            return build_assistant(self.settings, catalog, retriever_factory=lambda: self.index)

    @cached_property
    def store(self):
        """Conversations, feedback and the chat log (ui.conversation_store: SQLite by default, or PostgreSQL)."""
        from ui.conversation_store import open_store

        with self._lock:
            return open_store(self.settings)

    @cached_property
    def conversations(self) -> Conversations:
        return Conversations(self.store, self.settings, lambda: self.assistant)

    def warm_up(self) -> None:
        """Load everything a first answer needs (catalog, index, dictionaries, encoder, one pass through the agent);
        from now on every newly served index build is warmed before it is swapped in. Servers call this before
        they accept requests; one-shot commands do not (they load only what their question needs)."""
        self.index.warm_on_open = True
        warm = getattr(self.assistant, "warm_up", None)
        if callable(warm):
            warm()

    # --- chat ------------------------------------------------------------------------------------------
    def as_of(self, as_of: dt.date | None) -> dt.date:
        return as_of or self.settings.today()

    def chat(self, question: str | None, session: ChatSession, channel: str, *,
             facts_override: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Answer `question` in `session` and record it: the answer's contract JSON plus `turn_id`.

        `facts_override` (fact name → value as a person types it; None removes the fact) corrects the facts read and
        recomputes through the calculator, never a language model: with a question, that question is answered with
        the corrections; without one, the conversation's last question is recomputed (the conversation's id, issued
        by this server, is then required). The conversation keeps the corrections; the turn is recorded as what
        was corrected (“更正：年度购买算力服务总额改为120万元”).

        Raises `InputRefused` (bad text, a correction without a conversation), `ConversationNotFound` (an id the
        server did not issue), `ChatRefused` (the agent refused the input or the correction), or what the tools
        raise (`PolicyError`, `IndexCorrupt`).
        """
        question = self._chat_question(question, session, facts_override)
        day = self.as_of(session.as_of)
        turn = self.conversations.begin(session, channel, day)
        payload = self._ask(question, turn.id, day, facts_override).contract_dict()
        return self.conversations.finish(turn, self._recorded_question(question, payload), payload, channel)

    def chat_stream(self, question: str | None, session: ChatSession, channel: str, *,
                    facts_override: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Like `chat`, streamed: {"type": "token", "text"} events, then {"type": "answer", "answer": payload}
        (recorded before it is yielded). Input problems raise before the first event."""
        question = self._chat_question(question, session, facts_override)
        day = self.as_of(session.as_of)
        turn = self.conversations.begin(session, channel, day)
        return self._stream(question, turn, day, channel, facts_override)

    def _ask(self, question: str | None, session_id: str, day: dt.date, facts_override) -> Answer:
        if facts_override is None:
            return self.assistant.ask(question, session_id=session_id, as_of=day)
        return self.assistant.ask(question, session_id=session_id, as_of=day, facts_override=dict(facts_override))

    def _stream(self, question, turn, day, channel, facts_override=None) -> Iterator[dict[str, Any]]:
        if facts_override is None:
            events = self.assistant.ask_stream(question, session_id=turn.id, as_of=day)
        else:
            events = self.assistant.ask_stream(question, session_id=turn.id, as_of=day,
                                               facts_override=dict(facts_override))
        for event in events:
            if event.get("type") == "token":
                yield {"type": "token", "text": event.get("text", "")}
            elif event.get("type") == "answer":
                payload = event["answer"].contract_dict()
                payload = self.conversations.finish(turn, self._recorded_question(question, payload), payload, channel)
                yield {"type": "answer", "answer": payload}

    def _chat_question(self, question: str | None, session: ChatSession,
                       facts_override: Mapping[str, Any] | None) -> str | None:
        """The question to answer; None when `facts_override` alone recomputes the conversation's last question."""
        from ui.inputs import InputRefused

        if facts_override is not None and (question is None or (isinstance(question, str) and not question.strip())):
            if not session.id:
                raise InputRefused("session_required", "用 facts_override 更正读到的信息时，请填写 session_id（上一轮回答中的"
                                                       "会话 ID，由服务端签发），或同时给出 question。")
            return None
        if question is None:  # neither a question nor a correction
            raise InputRefused("invalid_request", "请求参数不正确：缺少必填字段“问题”。")
        return self._check_question(question)

    def _check_question(self, question: str) -> str:
        from ui.inputs import check_text

        return check_text(question, field="问题", max_chars=self.settings.max_question_chars)

    def _recorded_question(self, question: str | None, payload: dict[str, Any]) -> str:
        """What the conversation records as the turn's question: the question, or what a correction changed."""
        return question if question is not None else self.describe_override(payload)

    def describe_override(self, answer: dict[str, Any]) -> str:
        """What a correction did, as the conversation records it: “更正：年度购买算力服务总额改为120万元”."""
        vocab = self.catalog.facts
        shown = {f["fact"]: f["display"] for f in answer.get("facts_read") or []}
        parts = []
        for name, value in (answer.get("facts_override") or {}).items():
            label = vocab[name].label if name in vocab else name
            parts.append(f"删除“{label}”" if value is None else f"{label}改为{shown.get(name, value)}")
        return "更正：" + "；".join(parts) if parts else "更正"

    def conversation(self, conversation_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The turns of a conversation the server issued; ConversationNotFound otherwise."""
        return self.conversations.read(conversation_id, limit=limit)

    def delete_conversation(self, conversation_id: str) -> bool:
        return self.conversations.delete(conversation_id)

    def feedback(self, *, rating: int, session_id: str | None = None, turn_id: int | None = None, comment: str = "",
                 question: str = "", answer: str = "", channel: str = "api") -> int:
        """A 👍/👎 on an answer. Feedback on a one-off conversation held in memory keeps that conversation."""
        if session_id and turn_id is None:
            turn_id = self.conversations.keep(session_id)
        return self.store.add_feedback(rating=rating, session_id=session_id, turn_id=turn_id, comment=comment,
                                       question=question, answer=answer, channel=channel)

    def purge(self, *, days: int | None = None) -> dict[str, int]:
        """Remove conversations and feedback older than the retention period (settings.retention_days)."""
        return self.conversations.purge(days=days)

    # --- one-shot answers (CLI, evals) -----------------------------------------------------------------
    def ask(self, question: str | None, *, session_id: str | None = None, as_of: dt.date | None = None,
            facts_override: Mapping[str, Any] | None = None) -> Answer:
        """`facts_override` (fact name → value as typed; None removes it) corrects the facts read: with a question,
        it is answered with them; with `question=None`, the session's last question is recomputed with them."""
        if facts_override is None:
            return self.assistant.ask(question, session_id=session_id, as_of=self.as_of(as_of))
        return self.assistant.ask(question, session_id=session_id, as_of=self.as_of(as_of),
                                  facts_override=dict(facts_override))

    def ask_stream(self, question: str | None, *, session_id: str | None = None, as_of: dt.date | None = None,
                   facts_override: dict[str, Any] | None = None) -> Iterator[dict]:
        """Yields {"type": "token", "text": str} events, then one {"type": "answer", "answer": Answer}."""
        if facts_override is None:
            return self.assistant.ask_stream(question, session_id=session_id, as_of=self.as_of(as_of))
        return self.assistant.ask_stream(question, session_id=session_id, as_of=self.as_of(as_of),
                                         facts_override=facts_override)

    # --- tools -----------------------------------------------------------------------------------------
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
        return self.index.search(query, k=k, region=region, doc_id=doc_id, in_force_on=in_force_on)

    def documents(self, *, as_of: dt.date | None = None) -> list[dict]:
        from tools.validity import document_overview

        return document_overview(self.as_of(as_of), self.catalog)

    # --- health ----------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What /healthz reports: overall status (ok / degraded / unavailable) and each part's truth."""
        index = self.index.status()
        store = self.store.health()
        parts = [index["status"], "degraded" if store["status"] != "ok" else "ok"]
        status = "unavailable" if "unavailable" in parts else "degraded" if "degraded" in parts else "ok"
        out = {"status": status, "index": index, "store": store, "llm": self.settings.llm_enabled,
               "as_of": self.settings.today().isoformat()}
        if status != "ok":
            out["message"] = "；".join(part["message"] for part in (index, store) if part.get("message"))
        return out


def _place_stem(name: str) -> str:
    """"厦门市" and "厦门" compare equal: drop a trailing 省/市/区/县."""
    name = name.strip()
    return name[:-1] if len(name) > 1 and name[-1] in "省市区县" else name
