"""Carry a conversation's memory across server restarts.

The agent keeps per-session memory (region, program, facts) in process; the store keeps every turn durably. When a
request names a session this process has not seen, its stored questions are replayed through the agent once, in
order, so the next answer continues where the conversation left off. The replay's answers are discarded.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict

log = logging.getLogger("policy_assistant.ui")


class SessionMemory:
    def __init__(self, services, store, *, max_live: int = 100_000, max_replay: int = 20):
        self.services = services
        self.store = store
        self.max_live = max_live
        self.max_replay = max_replay
        self._live: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._replay_lock = threading.Lock()

    def seen(self, session_id: str | None) -> None:
        """Mark a session as known to this process's agent (it just answered in it)."""
        if not session_id:
            return
        with self._lock:
            self._live[session_id] = None
            self._live.move_to_end(session_id)
            while len(self._live) > self.max_live:
                self._live.popitem(last=False)

    def _known(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._live

    def ensure(self, session_id: str | None) -> None:
        """Before answering in `session_id`: replay its stored questions if this process has not seen it yet."""
        if not session_id or self._known(session_id):
            return
        with self._replay_lock:
            if self._known(session_id):
                return
            turns = self.store.conversation(session_id, limit=self.max_replay)
            for turn in turns:
                try:
                    self.services.ask(turn["question"], session_id=session_id)
                except Exception as exc:  # noqa: BLE001 - a failed replay only loses context, never the answer
                    log.warning("session replay stopped for %s: %s", session_id, exc)
                    break
            if turns:
                log.info("restored session %s from %d stored turns", session_id, len(turns))
            self.seen(session_id)
