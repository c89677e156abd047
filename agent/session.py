"""Per-session conversation memory: region, program and facts carry over until the user changes them."""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SessionState:
    session_id: str
    region: str | None = None  # a document region key: xiamen | siming | quanzhou | anhui
    program_id: str | None = None
    pending: bool = False  # the last turn asked for facts for program_id
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # program_id -> fact name -> raw value
    profile_facts: dict[str, Any] = field(default_factory=dict)  # facts not tied to a program (shared vocabulary)
    turns: int = 0
    touched: float = field(default_factory=time.monotonic)

    def facts_for(self, program_id: str) -> dict[str, Any]:
        return self.facts.setdefault(program_id, {})


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
            self._sessions[state.session_id] = state
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
            return state

    def __len__(self) -> int:
        return len(self._sessions)
