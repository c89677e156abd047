"""Per-session conversation memory: region, programs and facts carry over until the user changes them.

Facts are kept by name (the vocabulary is shared), each with the words it came from and its year, so a correction
replaces a fact, a region switch carries an amount to the counterpart program, and facts given over several turns
add up to one calculation. The state is plain data: `to_dict` / `from_dict` let a server restore a conversation from
its store instead of replaying it.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from typing import Any

from agent.facts import FactMention


@dataclass
class SessionState:
    session_id: str
    region: str | None = None  # a region key of the lexicon
    program_ids: list[str] = field(default_factory=list)  # the programs the last answer was about
    facts: dict[str, FactMention] = field(default_factory=dict)
    pending: bool = False  # the last turn asked for facts
    last_intent: str | None = None  # what the last question asked (a bare follow-up asks the same)
    last_question: str | None = None  # the question a correction recomputes
    corrections: dict[str, Any] = field(default_factory=dict)  # facts corrected for that question (None: removed)
    turns: int = 0
    touched: float = field(default_factory=time.monotonic)

    @property
    def program_id(self) -> str | None:
        return self.program_ids[0] if self.program_ids else None

    @property
    def blank(self) -> bool:
        """Nothing remembered yet (every field as a new session has it): an answer depends on the question alone."""
        new = SessionState(self.session_id)
        return all(getattr(self, f.name) == getattr(new, f.name) for f in fields(self)
                   if f.name not in ("session_id", "touched"))

    def fact_values(self) -> dict[str, Any]:
        return {n: m.value for n, m in self.facts.items() if m.value is not None}

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, dt.date):
                return {"date": v.isoformat()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)

        return {
            "session_id": self.session_id, "region": self.region, "program_ids": list(self.program_ids),
            "pending": self.pending, "turns": self.turns, "last_intent": self.last_intent,
            "last_question": self.last_question, "corrections": {n: plain(v) for n, v in self.corrections.items()},
            "facts": {n: {"value": plain(m.value), "source_text": m.source_text, "year": m.year}
                      for n, m in self.facts.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SessionState":
        def value(v: Any) -> Any:
            if isinstance(v, dict) and set(v) == {"date"}:
                return dt.date.fromisoformat(v["date"])
            return v

        state = cls(session_id=str(data["session_id"]), region=data.get("region"),
                    program_ids=list(data.get("program_ids") or []), pending=bool(data.get("pending")),
                    turns=int(data.get("turns") or 0), last_intent=data.get("last_intent"),
                    last_question=data.get("last_question"),
                    corrections={n: value(v) for n, v in (data.get("corrections") or {}).items()})
        for name, f in (data.get("facts") or {}).items():
            state.facts[name] = FactMention(name, value(f.get("value")), f.get("source_text", ""), f.get("year"),
                                            origin="earlier_turn")
        return state


class SessionStore:
    """Bounded in-memory LRU of sessions with idle expiry; thread-safe."""

    def __init__(self, max_sessions: int = 10_000, ttl_s: float = 6 * 3600):
        self._sessions: OrderedDict[str, SessionState] = OrderedDict()
        self._lock = threading.Lock()
        self.max_sessions = max_sessions
        self.ttl_s = ttl_s

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex[:16]

    def get(self, session_id: str | None) -> SessionState:
        now = time.monotonic()
        with self._lock:
            if session_id and session_id in self._sessions:
                state = self._sessions.pop(session_id)
                if now - state.touched <= self.ttl_s:
                    state.touched = now
                    self._sessions[session_id] = state
                    return state
            state = SessionState(session_id=session_id or self.new_id())
            self._put(state)
            return state

    def peek(self, session_id: str) -> SessionState | None:
        with self._lock:
            return self._sessions.get(session_id)

    def put(self, state: SessionState) -> None:
        """Make `state` the memory of its session (replacing what was there)."""
        state.touched = time.monotonic()
        with self._lock:
            self._sessions.pop(state.session_id, None)
            self._put(state)

    def restore(self, data: dict[str, Any]) -> SessionState:
        """Put a stored session state back (a restarted server continuing a conversation)."""
        state = SessionState.from_dict(data)
        with self._lock:
            self._sessions.pop(state.session_id, None)
            self._put(state)
        return state

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _put(self, state: SessionState) -> None:
        self._sessions[state.session_id] = state
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)

    def __len__(self) -> int:
        return len(self._sessions)
