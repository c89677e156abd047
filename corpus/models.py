"""Validated data models for policy documents and their clause parse."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["province", "city", "district"]

LEVEL_ZH: dict[str, str] = {"province": "省级", "city": "市级", "district": "区级"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # schemas build on first validation


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


class Application(Strict):
    """How to apply under the document (its dates are in `Document.dates`: window_opens, deadline)."""

    channel: str


class StatedDate(Strict):
    """A date the document itself states: the day, an optional time of day, and the words it is read from.

    `phrase` must occur in clause `clause_id` of the cleaned text and must write this date (corpus/dates.py checks
    it). A date written without its year (“7月15日前”) or as “即日起” needs a `reading` that says how it was read and
    names the year."""

    date: dt.date
    time: str | None = None
    phrase: str
    clause_id: str
    reading: str = ""


class DocumentDates(Strict):
    """Only the dates the text gives. A call for applications usually states a deadline and no validity: then
    `in_force_from`/`in_force_to` stay empty and answers say “通知未规定有效期”."""

    published: StatedDate | None = None  # 发布 / 印发 / 落款日期
    in_force_from: StatedDate | None = None  # 自…起施行
    in_force_to: StatedDate | None = None  # 有效期至…
    window_opens: StatedDate | None = None  # 申报开始（“即日起”）
    deadline: StatedDate | None = None  # 申报 / 报送 / 推荐截止，可带时刻

    def stated(self) -> list[tuple[str, StatedDate]]:
        return [(name, d) for name in DATE_ROLES if (d := getattr(self, name)) is not None]


DATE_ROLES = ("published", "in_force_from", "in_force_to", "window_opens", "deadline")
DATE_ROLE_ZH = {"published": "发布日期", "in_force_from": "施行日期", "in_force_to": "有效期截止", "window_opens": "申报开始",
                "deadline": "申报截止"}


class Replacement(Strict):
    """This document revises (修订, supersede) or repeals (废止, repeal) another one from a date, as its clause says."""

    doc_id: str
    from_: dt.date = Field(alias="from")
    clause_id: str
    phrase: str


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
    dates: DocumentDates = DocumentDates()
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
    # terms the document defines, each with the clause that defines it (“AI券” → 思明 第一条): “AI券是什么/能抵扣什么”
    # is answered from that clause; the term must occur in the clause's text
    terms: dict[str, str] = {}
    supersedes: list[Replacement] = []  # earlier versions this one revises, each from a date
    repeals: list[Replacement] = []  # documents this one repeals, each from a date

    @property
    def level_zh(self) -> str:
        return LEVEL_ZH[self.level]

    # --- dates the text states (None when it states none) -------------------------------------------------
    @property
    def publish_date(self) -> dt.date | None:
        return self.dates.published.date if self.dates.published else None

    @property
    def effective_from(self) -> dt.date | None:
        return self.dates.in_force_from.date if self.dates.in_force_from else None

    @property
    def effective_to(self) -> dt.date | None:
        return self.dates.in_force_to.date if self.dates.in_force_to else None

    @property
    def validity_stated(self) -> bool:
        """The text states when it is in force (施行 / 有效期); a call for applications usually does not."""
        return self.dates.in_force_from is not None or self.dates.in_force_to is not None

    @property
    def window_opens(self) -> dt.date | None:
        return self.dates.window_opens.date if self.dates.window_opens else None

    @property
    def deadline(self) -> dt.date | None:
        return self.dates.deadline.date if self.dates.deadline else None

    @property
    def deadline_time(self) -> str | None:
        return self.dates.deadline.time if self.dates.deadline else None

    @property
    def span(self) -> tuple[dt.date, dt.date]:
        """The days the document speaks for, for search filters only (never shown as a validity): its in-force
        period where stated; else from its opening or publication day (open-ended when neither is stated) to its
        deadline (open-ended when none)."""
        if self.validity_stated:
            return self.effective_from or dt.date.min, self.effective_to or dt.date.max
        start = self.window_opens or self.publish_date or dt.date.min
        return start, max(start, self.deadline or dt.date.max)

    @property
    def span_from(self) -> dt.date:
        return self.span[0]

    @property
    def span_to(self) -> dt.date:
        return self.span[1]


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
