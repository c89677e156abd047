"""Answers over the rules as they stand on each question's as-of date.

When a corpus holds revisions, repeals or dated values (tools/dated.py), `PolicyCatalog.at(as_of)` gives the edition
in force on a date. `EditionAssistant` keeps one assistant per edition (built on first use, sessions shared), so a
question as of a date before a revision still gets the old figures and one after it gets the new ones.
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Callable, Iterator

from tools.catalog import PolicyCatalog


class EditionAssistant:
    """The assistant interface (ask, ask_stream) over one assistant per edition of the catalog."""

    def __init__(self, catalog: PolicyCatalog, build: Callable[[PolicyCatalog], Any], today: Callable[[], dt.date]):
        self.catalog = catalog
        self._build = build
        self._today = today
        self._editions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def for_date(self, as_of: dt.date):
        key = self.catalog.edition_key(as_of)
        with self._lock:
            if key not in self._editions:
                self._editions[key] = self._build(self.catalog.at(as_of))
            return self._editions[key]

    def ask(self, question: str | None, *, session_id: str | None = None, as_of: dt.date | None = None,
            facts_override=None):
        as_of = as_of or self._today()
        extra = {} if facts_override is None else {"facts_override": facts_override}
        return self.for_date(as_of).ask(question, session_id=session_id, as_of=as_of, **extra)

    def ask_stream(self, question: str | None, *, session_id: str | None = None, as_of: dt.date | None = None,
                   facts_override=None) -> Iterator[dict]:
        as_of = as_of or self._today()
        extra = {} if facts_override is None else {"facts_override": facts_override}
        return self.for_date(as_of).ask_stream(question, session_id=session_id, as_of=as_of, **extra)

    # conversation memory as data: the editions share one session store, so today's assistant speaks for all
    def export_session(self, session_id: str) -> dict[str, Any] | None:
        export = getattr(self.for_date(self._today()), "export_session", None)
        return export(session_id) if callable(export) else None

    def import_session(self, session_id: str, data: dict[str, Any]) -> None:
        for_today = self.for_date(self._today())
        importer = getattr(for_today, "import_session", None)
        if callable(importer):
            importer(session_id, data)

    def reset(self, session_id: str) -> None:
        reset = getattr(self.for_date(self._today()), "reset", None)
        if callable(reset):
            reset(session_id)

    def warm_up(self) -> None:
        assistant = self.for_date(self._today())
        warm = getattr(assistant, "warm_up", None)
        if callable(warm):
            warm()
