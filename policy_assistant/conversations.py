"""Conversations: server-issued ids, which turns are kept, and this process's agent memory of each one.

Rules (issue 12):
- Ids are issued by the server (`secrets.token_urlsafe`), never chosen by clients. An id the server did not issue,
  or has forgotten, is refused (404) — for chatting and for reading alike.
- An OpenAI-style client may name its own conversation with `user`; it is mapped to an id with a server secret, so
  two clients never share a conversation unless they send the same label.
- A conversation started by a one-off API call (no id) is kept in memory only. It is written to disk when the client
  continues it (sends the id back), gives feedback on it, or when `log_chats` is on; web UI conversations and
  `user`-labelled ones are kept from their first turn. Everything kept is subject to `retention_days`.
- Memory is restored, once per process and under that conversation's own lock (never a global one), from the stored
  state snapshot when the agent offers `import_session`, otherwise by replaying the stored questions; a request
  that carries its own earlier user turns (OpenAI clients) and names no conversation is continued from those.
- Shared conversations (`serve --workers N`, or PostgreSQL for several hosts: `settings.shared_conversations`): any
  process may answer any turn, so each turn of a stored conversation starts from the store's snapshot when another
  process wrote it since (its version moved). A one-off chat (its turn and memory snapshot) is written behind the
  request, batched off the request path, so another process can continue it; it is marked not kept and purged
  after `ONE_OFF_KEEP` unless continued or rated. A process asked to continue an id it does not know yet waits
  briefly (`WAIT_FOR_SHARED_S`) for that write before answering 404.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("policy_assistant.conversations")

CHANNELS_KEPT_FROM_FIRST_TURN = frozenset({"web"})
MAX_LIVE = 100_000  # ids this process's agent has memory of (ids only)
MAX_PENDING = 2_000  # one-off conversations held in memory, with their first turns, until continued
LOCK_STRIPES = 64


@dataclass(frozen=True)
class ChatSession:
    """Which conversation a question belongs to, as the request said it."""

    id: str | None = None  # a server-issued id from an earlier answer
    user: str | None = None  # a client's own label (OpenAI `user`); mapped to an id with a server secret
    prior_questions: tuple[str, ...] = ()  # earlier user turns sent with the request (continue from these if new)
    as_of: dt.date | None = None


class ConversationNotFound(LookupError):
    code = "session_not_found"
    message_zh = "会话不存在或已过期（会话 ID 须由服务端签发），请不带会话 ID 重新开始对话。"


class ChatRefused(ValueError):
    """The agent refused the input (empty question, nonsense); carries its Chinese answer."""

    def __init__(self, code: str, message_zh: str, payload: dict[str, Any]):
        super().__init__(message_zh)
        self.code = code
        self.message_zh = message_zh
        self.payload = payload


@dataclass
class Turn:
    """A question being answered in conversation `id`."""

    id: str
    persist: bool


class OneOffWriter:
    """Shared mode: writes one-off chats (the turn and the memory snapshot) to the store in batches on its own
    thread, so the request that produced them never waits on a disk write."""

    def __init__(self, store, *, interval_s: float = 0.05, max_batch: int = 500):
        self.store = store
        self.interval_s = interval_s
        self.max_batch = max_batch
        self._queue: list[tuple] = []
        self._in_flight: set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="one-off-writer", daemon=True)
        self._thread.start()

    def put(self, item: tuple) -> None:
        """(session id, question, answer JSON, memory snapshot, channel, asked-at ISO time)."""
        with self._cond:
            self._queue.append(item)
            self._cond.notify_all()

    def wait(self, conversation_id: str, timeout_s: float = 10.0) -> None:
        """Until nothing of this conversation is queued or being written."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while (conversation_id in self._in_flight or any(i[0] == conversation_id for i in self._queue)) \
                    and time.monotonic() < deadline:
                self._cond.wait(0.05)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
            time.sleep(self.interval_s)  # let a burst gather into one transaction
            with self._cond:
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
                self._in_flight = {i[0] for i in batch}
            try:
                self.store.save_one_offs(batch)
            except Exception as exc:  # noqa: BLE001 - a lost one-off costs a continuation, never an answer
                log.warning("one-off chats not saved (%d): %s", len(batch), type(exc).__name__)
            finally:
                with self._cond:
                    self._in_flight = set()
                    self._cond.notify_all()

    def flush(self, timeout_s: float = 10.0) -> None:
        """Write what is queued now and stop (at shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout_s)


def _replay(turn: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """How a stored turn is replayed into an agent: its question; a correction (facts_override) with the question it
    was asked with, or None when it recomputed the conversation's last question (recorded as “更正：…”)."""
    answer = turn.get("answer") or {}
    override = answer.get("facts_override")
    if not override:
        return turn["question"], None
    return (turn["question"] if turn["question"] == answer.get("question") else None), override


class Conversations:
    # how long a process waits for another process's one-off chat to be written before refusing an id it does not know
    WAIT_FOR_SHARED_S = 1.0
    ONE_OFF_KEEP = dt.timedelta(days=1)  # shared mode: one-off chats never continued are purged after this

    def __init__(self, store, settings, assistant: Callable[[], Any]):
        self.store = store
        self.settings = settings
        self._assistant = assistant
        self.shared = bool(getattr(settings, "shared_conversations", False))
        self._versions: dict[str, int | None] = {}  # shared mode: the store version this process's memory reflects
        self._writer: OneOffWriter | None = None
        self._live: OrderedDict[str, None] = OrderedDict()
        self._pending: OrderedDict[str, list[tuple[str, dict[str, Any]]]] = OrderedDict()
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._secret: bytes | None = None

    # --- ids -------------------------------------------------------------------------------------------------------
    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(18)

    def user_id(self, label: str) -> str:
        digest = hmac.new(self._server_secret(), b"user\x00" + label.encode("utf-8"), hashlib.sha256).digest()
        return "u" + base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")

    def _server_secret(self) -> bytes:
        """The store's secret: every process and host using the store maps a label to the same id."""
        if self._secret is None:
            getter = getattr(self.store, "server_secret", None)
            if callable(getter):
                self._secret = getter()
            else:  # a store without one: a file in the data directory (one host)
                path = Path(self.settings.data_dir) / ".conversation-secret"
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as fh:
                        fh.write(secrets.token_hex(32))
                except FileExistsError:
                    pass
                self._secret = bytes.fromhex(path.read_text().strip())
        return self._secret

    def _stripe(self, conversation_id: str) -> threading.Lock:
        return self._stripes[zlib.crc32(conversation_id.encode()) % LOCK_STRIPES]

    # --- state -------------------------------------------------------------------------------------------------------
    def _is_live(self, conversation_id: str) -> bool:
        with self._lock:
            return conversation_id in self._live

    def _mark_live(self, conversation_id: str) -> None:
        with self._lock:
            self._live[conversation_id] = None
            self._live.move_to_end(conversation_id)
            while len(self._live) > MAX_LIVE:
                gone, _ = self._live.popitem(last=False)
                self._versions.pop(gone, None)

    def _take_pending(self, conversation_id: str) -> list[tuple[str, dict[str, Any]]] | None:
        with self._lock:
            return self._pending.pop(conversation_id, None)

    def _is_pending(self, conversation_id: str) -> bool:
        with self._lock:
            return conversation_id in self._pending

    def exists(self, conversation_id: str) -> bool:
        return self._is_live(conversation_id) or self.store.has_conversation(conversation_id)

    # --- a turn --------------------------------------------------------------------------------------------------------
    def begin(self, session: ChatSession, channel: str, as_of: dt.date) -> Turn:
        """Resolve the conversation (refusing ids the server did not issue) and make sure the agent remembers it."""
        if session.id:
            conversation_id = session.id
            if not self.exists(conversation_id) and not self._appears(conversation_id):
                raise ConversationNotFound()
            persist = True  # the client came back with the id: this conversation is kept from now on
        elif session.user:
            conversation_id = self.user_id(session.user)
            persist = True
        else:
            conversation_id = self.new_id()
            persist = channel in CHANNELS_KEPT_FROM_FIRST_TURN or self.settings.log_chats
            # an id issued just now is in no store and no other process: its memory is the request's own turns
            limit = self.settings.max_history_turns
            self._ask_again(conversation_id, [(q, None) for q in session.prior_questions[-limit:]], as_of)
            self._mark_live(conversation_id)
            return Turn(conversation_id, persist)
        if self.shared:
            with self._stripe(conversation_id):
                self._follow_store(conversation_id, session.prior_questions, as_of)
        elif not self._is_live(conversation_id):
            with self._stripe(conversation_id):
                if not self._is_live(conversation_id):
                    self._restore(conversation_id, session.prior_questions, as_of)
                    self._mark_live(conversation_id)
        return Turn(conversation_id, persist)

    def _appears(self, conversation_id: str) -> bool:
        """Shared mode: another process may have issued this id a moment ago (its snapshot is written behind)."""
        if not self.shared:
            return False
        deadline = time.monotonic() + self.WAIT_FOR_SHARED_S
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if self.store.has_conversation(conversation_id):
                return True
        return False

    def _follow_store(self, conversation_id: str, prior_questions: tuple[str, ...], as_of: dt.date) -> None:
        """Shared mode: continue from the store's snapshot when another process wrote the conversation since this
        process last saw it (one small read per turn); a conversation the store does not have lives here."""
        snap = self.store.snapshot(conversation_id)
        if snap is None:
            if not self._is_live(conversation_id):
                self._restore(conversation_id, prior_questions, as_of)
                self._mark_live(conversation_id)
            return
        version, state = snap
        if self._is_live(conversation_id) and self._versions.get(conversation_id) == version:
            return  # this process wrote the latest turn: its memory is the store's
        importer = getattr(self._assistant(), "import_session", None)
        if state is not None and callable(importer):
            importer(conversation_id, state)
        else:
            self._restore(conversation_id, (), as_of)
        self._versions[conversation_id] = version
        self._mark_live(conversation_id)

    def _restore(self, conversation_id: str, prior_questions: tuple[str, ...], as_of: dt.date) -> None:
        """Give the agent this conversation's memory: stored state, else stored questions, else the request's."""
        assistant = self._assistant()
        limit = self.settings.max_history_turns
        if self.store.has_conversation(conversation_id):
            state = self.store.load_state(conversation_id)
            importer = getattr(assistant, "import_session", None)
            if state is not None and callable(importer):
                importer(conversation_id, state)
                return
            replays = [_replay(t) for t in self.store.conversation(conversation_id, limit=limit)]
        else:
            replays = [(q, None) for q in prior_questions[-limit:]]
        self._ask_again(conversation_id, replays, as_of)

    def _ask_again(self, conversation_id: str, replays: list[tuple[str | None, dict[str, Any] | None]],
                   as_of: dt.date) -> None:
        """Ask the agent the conversation's earlier turns again (see `_replay`), so it remembers what they established."""
        if not replays:
            return
        assistant = self._assistant()
        for question, override in replays:
            try:
                if override is None:
                    assistant.ask(question, session_id=conversation_id, as_of=as_of)
                else:  # a correction: recomputed (or asked with the corrections) as it was then
                    assistant.ask(question, session_id=conversation_id, as_of=as_of, facts_override=override)
            except Exception as exc:  # noqa: BLE001 - a failed replay only loses context, never the answer
                log.warning("conversation restore stopped: %s", type(exc).__name__)
                break
        log.info("restored a conversation from %d earlier questions", len(replays))

    def finish(self, turn: Turn, question: str, payload: dict[str, Any], channel: str) -> dict[str, Any]:
        """Record the answered turn (or hold it in memory for a one-off) and return the payload with `turn_id`."""
        payload["session_id"] = turn.id
        code = payload.get("error")
        if code:
            raise ChatRefused(str(code), payload.get("answer") or "输入无效。", payload)
        state = self._export(turn.id)
        if turn.persist:
            earlier = self._take_pending(turn.id) or []
            before = self._versions.get(turn.id)
            ids = self.store.record_turns(turn.id, [*earlier, (question, payload)], channel=channel, state=state)
            payload["turn_id"] = ids[-1]
            if self.shared:  # our write is the next version, unless another process wrote meanwhile (then re-read)
                self._versions[turn.id] = None if before is None else before + 1
        elif self.shared:  # written behind the request, so any process can continue it
            asked_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
            self._one_off_writer().put((turn.id, question, payload, state, channel, asked_at))
            payload["turn_id"] = None
            return payload
        else:
            with self._lock:
                self._pending.setdefault(turn.id, []).append((question, payload))
                self._pending.move_to_end(turn.id)
                while len(self._pending) > MAX_PENDING:
                    self._pending.popitem(last=False)
            payload["turn_id"] = None
        return payload

    def _one_off_writer(self) -> OneOffWriter:
        with self._lock:
            if self._writer is None:
                self._writer = OneOffWriter(self.store)
            return self._writer

    def _settled(self, conversation_id: str) -> None:
        """Shared mode: this process's own one-off writes of the conversation are in the store."""
        if self._writer is not None:
            self._writer.wait(conversation_id)

    def close(self) -> None:
        """Write the queued one-off chats (shared mode) before the store closes."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.flush()

    def _export(self, conversation_id: str) -> dict[str, Any] | None:
        exporter = getattr(self._assistant(), "export_session", None)
        if not callable(exporter):
            return None
        try:
            return exporter(conversation_id)
        except Exception as exc:  # noqa: BLE001 - no snapshot means a replay on restore, not a failed answer
            log.warning("export_session failed: %s", type(exc).__name__)
            return None

    # --- reading, keeping, deleting ------------------------------------------------------------------------------------
    def read(self, conversation_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        self._settled(conversation_id)
        with self._lock:
            pending = list(self._pending.get(conversation_id, []))
        if pending:
            return [{"turn_id": None, "question": q, "answer": a, "created_at": None} for q, a in pending][-limit:]
        if not self.exists(conversation_id):
            raise ConversationNotFound()
        return self.store.conversation(conversation_id, limit=limit)

    def keep(self, conversation_id: str) -> int | None:
        """Write a one-off conversation held in memory to disk (feedback on it); the id of its last turn."""
        earlier = self._take_pending(conversation_id)
        if earlier:
            return self.store.record_turns(conversation_id, earlier, channel="api",
                                           state=self._export(conversation_id))[-1]
        if self.shared:
            self._settled(conversation_id)
        if self.shared and self.store.has_conversation(conversation_id):  # a one-off written behind: keep it now
            self.store.record_turns(conversation_id, [], channel="api")
            turns = self.store.conversation(conversation_id, limit=1)
            return turns[-1]["turn_id"] if turns else None
        return None

    def delete(self, conversation_id: str) -> bool:
        """Forget a conversation everywhere this process can: disk, memory held here, the agent's memory."""
        had_pending = self._take_pending(conversation_id) is not None
        with self._lock:
            was_live = self._live.pop(conversation_id, "missing") != "missing"
        self._versions.pop(conversation_id, None)
        self._settled(conversation_id)
        stored = self.store.delete_conversation(conversation_id)
        reset = getattr(self._assistant(), "reset", None)
        if callable(reset):
            try:
                reset(conversation_id)
            except Exception:  # noqa: BLE001
                log.warning("agent could not forget a deleted conversation")
        return stored or had_pending or was_live

    def purge(self, now: dt.datetime | None = None, days: int | None = None) -> dict[str, int]:
        days = self.settings.retention_days if days is None else days
        if days <= 0:
            return {"conversations": 0, "turns": 0, "feedback": 0}
        now = now or dt.datetime.now(dt.timezone.utc)
        return self.store.purge(now - dt.timedelta(days=days), unkept_older_than=now - self.ONE_OFF_KEEP)
