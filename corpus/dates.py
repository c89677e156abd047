"""Dates as a document writes them: find them in a quoted phrase and check a stated date against its phrase.

Every date the assistant states comes from `Document.dates` or an activity period, and each of those carries the
phrase it is read from. `check_stated` makes sure the phrase is in the cleaned clause and really writes that day:
“2023年10月10日” fully, or “7月15日” / “即日起” with a `reading` that names the year. A later day in the same phrase
may omit its year (“2023年1月1日至12月31日”).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_DATE = re.compile(r"(?:(?P<y>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]")
_TIME = re.compile(r"(?P<h>\d{1,2})\s*[:：时]\s*(?P<min>\d{2})?|(?P<half>上午|下午|晚上)\s*(?P<h2>\d{1,2})\s*[点时](?:\s*(?P<m2>\d{1,2})\s*分)?")
_TODAY = ("即日", "发文之日", "印发之日", "发布之日")


@dataclass(frozen=True)
class WrittenDate:
    """A day as written in a phrase; `year` is None when the text leaves it out (and no earlier day gives it)."""

    month: int
    day: int
    year: int | None
    year_written: bool

    def matches(self, day: dt.date) -> bool:
        return (self.month, self.day) == (day.month, day.day) and self.year in (None, day.year)


def written_dates(phrase: str) -> list[WrittenDate]:
    """Days written in `phrase`, in order; a day without a year that ends a range (“2023年1月1日至12月31日”) takes
    the year of the day just before it; any other day without a year has none."""
    out: list[WrittenDate] = []
    year: int | None = None
    last_end = -10
    for m in _DATE.finditer(phrase):
        written = m.group("y") is not None
        if written:
            year = int(m.group("y"))
        elif not re.fullmatch(r"\s*(?:至|到|-|－|—|~|～)\s*", phrase[last_end:m.start()]):
            year = None
        out.append(WrittenDate(int(m.group("m")), int(m.group("d")), year, written))
        last_end = m.end()
    return out


def written_times(phrase: str) -> list[str]:
    """Times of day in `phrase` as HH:MM (“下午5点” → 17:00, “17:00” → 17:00)."""
    out = []
    for m in _TIME.finditer(phrase):
        if m.group("half"):
            hour = int(m.group("h2")) + (12 if m.group("half") in ("下午", "晚上") and int(m.group("h2")) < 12 else 0)
            minute = int(m.group("m2") or 0)
        else:
            hour, minute = int(m.group("h")), int(m.group("min") or 0)
        if 0 <= hour < 24 and 0 <= minute < 60:
            out.append(f"{hour:02d}:{minute:02d}")
    return out


def zh_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def check_date_phrase(day: dt.date, phrase: str, reading: str = "", time: str | None = None) -> str | None:
    """None when `phrase` writes `day` (and `time`); otherwise why not, in Chinese."""
    hits = [w for w in written_dates(phrase) if w.matches(day)]
    if not hits:
        if any(t in phrase for t in _TODAY):
            if not reading or zh_date(day) not in reading:
                return f"短语“{phrase}”用“即日”表示日期，需要在 reading 中写明按哪一天理解（应含“{zh_date(day)}”）"
        else:
            return f"短语“{phrase}”中没有写到{zh_date(day)}"
    elif all(w.year is None for w in hits) and (not reading or f"{day.year}年" not in reading):
        return f"短语“{phrase}”中的{day.month}月{day.day}日未写年份，需要在 reading 中说明按{day.year}年理解的依据"
    if time is not None and time not in written_times(phrase):
        return f"短语“{phrase}”中没有写到时刻 {time}"
    return None
