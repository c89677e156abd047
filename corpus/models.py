"""Validated data models for policy documents and their clause parse."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["province", "city", "district"]

LEVEL_ZH: dict[str, str] = {"province": "省级", "city": "市级", "district": "区级"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Repair(Strict):
    """One edit made while cleaning a seed text; `find` must match exactly `count` times."""

    kind: Literal["markup", "page_break", "spacing", "punctuation", "debris", "restore"]
    find: str
    replace: str
    reason: str
    regex: bool = False
    count: int = 1


class Contact(Strict):
    name: str = ""
    unit: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    topic: str = ""


class Period(Strict):
    from_: dt.date = Field(alias="from")
    to: dt.date
    label: str


class Application(Strict):
    """An application (申报/兑现) window stated by the document."""

    opens: dt.date
    closes: dt.date
    closes_time: str | None = None
    channel: str
    covers_period: Period | None = None


ClauseRole = Literal["period", "window", "contacts", "interpreter", "stacking", "definitions", "process"]


class ActivityPeriod(Strict):
    """The dates the activity a document rewards must fall in, with the phrase that says so."""

    from_: dt.date = Field(alias="from")
    to: dt.date
    label: str
    clause_id: str
    phrase: str


class DocumentNote(Strict):
    """A sentence the answers add about this document, with the clause that says it (possibly another document's)."""

    text: str
    clause_id: str
    see_document: str | None = None
    cues: list[str] = []  # questions with these words get the note whatever they ask (“AI券有效期”)


class ParseStyle(Strict):
    """How a document writes its headings: where a bold title ends inside a heading line (corpus/parse.py)."""

    title_delims: str = ""
    closing_starts: list[str] = []
    notice_ends_before: str | None = None  # a cover notice precedes the measures' own title


class Document(Strict):
    id: str
    seed_file: str
    title: str
    notice_title: str
    short_title: str
    issuer: str
    interpreter: str
    doc_number: str
    doc_number_aliases: list[str]
    region: str
    region_path: list[str]
    level: Level
    publish_date: dt.date
    publish_date_note: str = ""
    effective_from: dt.date
    effective_to: dt.date
    application: Application | None
    contacts: list[Contact]
    based_on: list[str]
    based_on_titles: list[str] = []
    keywords: list[str]
    notes: list[str]
    repairs: list[Repair]
    parse_style: ParseStyle = ParseStyle()
    roles: dict[ClauseRole, str] = {}
    activity_period: ActivityPeriod | None = None
    application_note: DocumentNote | None = None
    contacts_note: DocumentNote | None = None

    @property
    def level_zh(self) -> str:
        return LEVEL_ZH[self.level]


class Clause(Strict):
    """A structural unit of a document with its label path exactly as the document writes it."""

    id: str
    doc_id: str
    order: int
    labels: list[str]
    kind: Literal["preamble", "body", "closing", "contacts", "attachment_list", "attachment"]
    text: str

    @property
    def label_path(self) -> str:
        return " > ".join(self.labels)
