"""Reading the figures of a question: every number with where it stands and what the words around it say.

`read_mentions` finds each amount, percentage, count, P value, quantity, rank and date with the one number reader
(tools.money) and annotates it from the lexicon: the year it belongs to (2024年, 去年, 前年), whether it is a part of
a year (上半年), hearsay (听说…), the policy's own wording (最高50万, 按50%), an award already received, a threshold
(超过30万), a breakdown (其中设备40万) or a distractor (注册资本, 纳税, 员工). Binding mentions to facts is
agent/facts.py; nothing here knows a program.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tools.lexicon import Lexicon
from tools.money import find_money, find_percents, parse_count, parse_number

# a parenthesis stays in its clause; a space next to a Latin word (“MaaS 营收”) joins, between Chinese it separates
SEGMENT_BREAK = re.compile(r"[，,。；;！!？?\n、：:\[\]【】]|(?<![A-Za-z])\s+(?![A-Za-z])|(?:但是|不过)")
# English sentences keep their spaces inside a clause
SEGMENT_BREAK_LATIN = re.compile(r"[，,。；;！!？?\n、：:\[\]【】]|(?:但是|不过)")
SENTENCE_BREAK = re.compile(r"[。；;！!？?\n]")
_YEAR_RE = re.compile(r"(20\d{2})\s*(?:年|-\d{1,2}月?|/)")
_DATE_RE = re.compile(r"(20\d{2})\s*年\s*(?:(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?)?|(20\d{2})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?")
_COUNT_RE = re.compile(r"(?<![\d.])(\d+|[一二两三四五六七八九十百几]+)\s*(家|个|户|名|位|项|人|台|款|件|套)")
_RANK_RE = re.compile(r"(?:排名?第|第|排)\s*(\d+|[一二三四五六七八九十])(?![次批年季届期档条轮代])\s*(?:名|位|起草单位|顺位)?"
                      r"|前\s*(\d+|[一二三四五])\s*名")
_PFLOPS_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:P(?:Flops|FLOPS|flops)?|p|匹)(?![a-zA-Z])")
_QUANTITY_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(万|亿)?\s*(?:核时|卡时|机时|GPU时|P·小时|P·时|P\*时|P时|小时|PFlops·天|P·天)")


@dataclass(eq=False)
class Mention:
    kind: str  # money | percent | count | pflops | quantity | date | rank
    value: Any
    start: int
    end: int
    raw: str
    segment: int
    sentence: int
    unit_word: str = ""  # counts: 家/个/项/人…
    year: int | None = None
    year_part: bool = False
    part_word: str = ""  # the part-of-year label it stands under (上半年, 四个季度…)
    when: tuple[dt.date, dt.date] | None = None  # the dates the figure's activity falls in (a month, a range, a year)
    hearsay: bool = False
    quote: bool = False
    history: bool = False
    threshold: bool = False
    breakdown: bool = False
    distractor: str | None = None
    distractor_pos: int = -1  # where the distractor word stands before the figure (in its segment)
    own_label: bool = False  # its clause names something of its own (not only verbs, years, 又/再)
    add_on: bool = False
    plan: bool = False
    restates: bool = False  # “9月20万，11月又20万，一共40万”: the sum of the figures before it, said again
    denied: bool = False  # “是1050万不是1500万”: a value named to deny it

    @property
    def plain(self) -> bool:
        """A figure that states a fact about the enterprise (not hearsay, a quote, a bound or a breakdown)."""
        return not (self.hearsay or self.quote or self.threshold or self.breakdown or self.restates or self.denied)


@dataclass
class Segment:
    start: int
    end: int
    text: str
    sentence: int


@dataclass
class Reading:
    text: str
    segments: list[Segment]
    mentions: list[Mention] = field(default_factory=list)
    hearsay: list[tuple[int, int]] = field(default_factory=list)  # spans of hearsay and quoted policy wording
    year_labels: list[tuple[int, int, int, bool]] = field(default_factory=list)  # (start, end, year, is_part)

    def in_hearsay(self, pos: int) -> bool:
        return any(a <= pos < b for a, b in self.hearsay)

    def segment_of(self, pos: int) -> int:
        for i, seg in enumerate(self.segments):
            if seg.start <= pos < seg.end:
                return i
        return len(self.segments) - 1

    def segment_text(self, i: int) -> str:
        return self.segments[i].text if 0 <= i < len(self.segments) else ""

    def before(self, m: Mention, limit: int = 30) -> str:
        """The words of the mention's segment before it."""
        seg = self.segments[m.segment]
        return self.text[max(seg.start, m.start - limit):m.start]

    def after(self, m: Mention, limit: int = 12) -> str:
        seg = self.segments[m.segment]
        return self.text[m.end:min(seg.end, m.end + limit)]

    def of_kind(self, *kinds: str) -> list[Mention]:
        return [m for m in self.mentions if m.kind in kinds]


def segments(text: str) -> list[Segment]:
    out: list[Segment] = []
    sentence = 0
    pos = 0
    latin = len(re.findall(r"[A-Za-z]{2,}", text)) >= 3
    for m in (SEGMENT_BREAK_LATIN if latin else SEGMENT_BREAK).finditer(text + "\n"):
        if m.start() > pos:
            out.append(Segment(pos, m.start(), text[pos:m.start()], sentence))
        if SENTENCE_BREAK.fullmatch(m.group(0) or "") or m.group(0) == "\n":
            sentence += 1
        pos = m.end()
    if not out:
        out.append(Segment(0, len(text), text, 0))
    return out


def _year_labels(text: str, lexicon: Lexicon, as_of: dt.date) -> list[tuple[int, int, int, bool]]:
    """(start, end, year, is_part) for every year label: 2024年, 今年, 去年, 前年, 同年; 上半年 marks a part.
    Longest words first, without overlaps (“再上一年” is not also “上一年”)."""
    labels: list[tuple[int, int, int, bool]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b, _, _ in labels)

    for m in _YEAR_RE.finditer(text):
        labels.append((m.start(), m.end(), int(m.group(1)), False))
    words = [(w, as_of.year + g.offset, False) for g in lexicon.words.year_labels for w in g.words]
    words += [(w, 0, True) for w in lexicon.words.year_parts]
    for word, year, part in sorted(words, key=lambda t: -len(t[0])):
        if word not in text:
            continue
        for m in re.finditer(re.escape(word), text):
            if free(m.start(), m.end()):
                labels.append((m.start(), m.end(), year, part))
    for word in sorted(lexicon.words.same_year, key=len, reverse=True):
        if word not in text:
            continue
        for m in re.finditer(re.escape(word), text):
            previous = [y for s, e, y, part in sorted(labels) if e <= m.start() and not part]
            if previous and free(m.start(), m.end()):
                labels.append((m.start(), m.end(), previous[-1], False))
    return sorted(labels)


_DAY_RANGE_RE = re.compile(r"(?:(20\d{2})\s*年)?\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?\s*(?:-|—|~|～|至|到)\s*"
                           r"(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*[日号]")  # 10月10日到12月31日, 6月20号到28号
_MONTH_RE = re.compile(
    r"(?:(20\d{2})\s*年)?\s*(\d{1,2})\s*(?:月份?)?\s*(?:-|—|~|～|至|到)\s*(\d{1,2})\s*月份?"  # 2024年1-5月
    r"|(?:(20\d{2})\s*年)?\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?(?:\s*(以后|之后|以来|起|后|以前|之前|前))?"
    r"|(20\d{2})\s*年(?:度)?(?:\s*(以后|之后|以来|起|以前|之前))?"
)


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _date_labels(text: str, as_of: dt.date | None = None) -> list[tuple[int, int, dt.date, dt.date]]:
    """(start, end, from, to) for dated phrases: 2024年, 2023年9月, 11月 (year of the label before), 2024年1-5月,
    10月10号以后. A phrase without a year takes the year of the nearest dated phrase before it; with none, the latest
    year that does not put it after the as-of date (“6月20号到28号”, asked on 2024-06-29, is 2024)."""
    out: list[tuple[int, int, dt.date, dt.date]] = []
    last_year: int | None = None
    days = []

    def as_of_year(month: int, day: int = 1) -> int | None:
        if as_of is None:
            return None
        return as_of.year if (month, day) <= (as_of.month, as_of.day) else as_of.year - 1

    for d in _DAY_RANGE_RE.finditer(text):  # 10月10日到12月31日
        year = int(d.group(1)) if d.group(1) else None
        if year is None:
            prior = re.findall(r"(20\d{2})\s*年", text[:d.start()])
            year = int(prior[-1]) if prior else as_of_year(int(d.group(2)), int(d.group(3)))
        try:
            if year:
                days.append((d.start(), d.end(), dt.date(year, int(d.group(2)), int(d.group(3))),
                             dt.date(year, int(d.group(4) or d.group(2)), int(d.group(5)))))
        except ValueError:
            continue
    for m in _MONTH_RE.finditer(text):
        if any(a <= m.start() < b for a, b, _, _ in days):
            continue
        try:
            if m.group(2) and m.group(3):  # a month range
                year = int(m.group(1)) if m.group(1) else last_year
                if year is None:
                    continue
                a, b = int(m.group(2)), int(m.group(3))
                if not (1 <= a <= b <= 12):
                    continue
                span = (dt.date(year, a, 1), _month_end(year, b))
            elif m.group(5):  # a month (and day)
                month = int(m.group(5))
                if not 1 <= month <= 12:
                    continue
                year = int(m.group(4)) if m.group(4) else last_year
                if year is None and m.group(6):  # a bare month alone is too often a duration or a count
                    year = as_of_year(month, int(m.group(6)))
                if year is None or not 1 <= month <= 12:
                    continue
                day = int(m.group(6)) if m.group(6) else None
                first = dt.date(year, month, day or 1)
                last = dt.date(year, month, day) if day else _month_end(year, month)
                tail = m.group(7) or ""
                if tail in ("以后", "之后", "以来", "起", "后"):
                    last = dt.date(year, 12, 31)
                elif tail in ("以前", "之前", "前"):
                    first = dt.date(year, 1, 1)
                span = (first, last)
            elif m.group(8):  # a year
                year = int(m.group(8))
                span = (dt.date(year, 1, 1), dt.date(year, 12, 31))
            else:
                continue
        except ValueError:
            continue
        last_year = span[0].year
        # “2023年8月、9月”: dated phrases joined by 、/和 make one span
        if out and text[out[-1][1]:m.start()].strip() in ("、", "和", "及", "与", ",", "，") and out[-1][2].year == span[0].year:
            prev = out.pop()
            span = (min(prev[2], span[0]), max(prev[3], span[1]))
            out.append((prev[0], m.end(), *span))
            continue
        out.append((m.start(), m.end(), *span))
    return sorted(out + days)


def _raw_mentions(text: str) -> list[Mention]:
    found: list[Mention] = []
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    def add(m: Mention) -> None:
        found.append(m)
        taken.append((m.start, m.end))

    for q in _QUANTITY_RE.finditer(text):
        value = Decimal(q.group(1)) * {"万": 10**4, "亿": 10**8}.get(q.group(2) or "", 1)
        add(Mention("quantity", value, q.start(), q.end(), q.group(0), 0, 0))
    for m in find_money(text):
        if free(m.start, m.end):
            add(Mention("money", m.value_yuan, m.start, m.end, m.raw, 0, 0))
    for p in find_percents(text):
        if free(p.start, p.end):
            add(Mention("percent", p.value, p.start, p.end, p.raw, 0, 0))
    for p in _PFLOPS_RE.finditer(text):
        if free(p.start(), p.end()):
            add(Mention("pflops", Decimal(p.group(1)), p.start(), p.end(), p.group(0), 0, 0))
    for r in _RANK_RE.finditer(text):
        if free(r.start(), r.end()):
            try:
                add(Mention("rank", parse_count(r.group(1) or r.group(2)), r.start(), r.end(), r.group(0), 0, 0))
            except Exception:
                pass
    for d in _DATE_RE.finditer(text):
        if not free(d.start(), d.end()):
            continue
        year, month, day = (d.group(1), d.group(2), d.group(3)) if d.group(1) else (d.group(4), d.group(5), d.group(6))
        try:
            value = dt.date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            continue
        add(Mention("date", value, d.start(), d.end(), d.group(0), 0, 0, unit_word="day" if day else "month" if month else "year"))
    for c in _COUNT_RE.finditer(text):
        if not free(c.start(), c.end()) or c.group(1) == "几":
            continue
        try:
            value = parse_count(c.group(1))
        except Exception:
            continue
        add(Mention("count", value, c.start(), c.end(), c.group(0), 0, 0, unit_word=c.group(2)))
    return sorted(found, key=lambda m: m.start)


def _hearsay_spans(text: str, lexicon: Lexicon) -> list[tuple[int, int]]:
    """From each hearsay word to where the enterprise speaks for itself again (我们…) or the sentence ends."""
    words = lexicon.words
    spans = []
    for w in words.hearsay + words.policy_quote:
        if w not in text:
            continue
        for m in re.finditer(re.escape(w), text):
            end = len(text)
            stop = SENTENCE_BREAK.search(text, m.end())
            if stop:
                end = stop.start()
            for s in words.subjects:
                k = text.find(s, m.end(), end)
                if k >= 0:
                    end = k
            spans.append((m.start(), end))
    return spans


def _own_label(before: str, lexicon: Lexicon) -> bool:
    """True when the words before a figure in its clause name something (“全国销售一共”), not only a verb, a
    year or a link word (“下半年又买了”)."""
    words = lexicon.words
    rest = re.sub(r"20\d{2}\s*年|\d+\s*[月日号]|[\d.,]+", "", before)
    strip = [*words.spend_verbs, *words.add_on, *words.year_parts, *words.same_year, *words.subjects,
             *words.amount_words, *words.plan_words, *(w for g in words.year_labels for w in g.words)]
    for w in sorted(strip, key=len, reverse=True):
        rest = rest.replace(w, "")
    return len(re.findall(r"[\u4e00-\u9fff]", rest)) >= 2


_CLAUSE_ENDS = "，,。；;！!？?\n"


def clause_span(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the punctuation-delimited clause that holds `pos` (、 does not end a clause)."""
    start = max(text.rfind(ch, 0, pos) for ch in _CLAUSE_ENDS) + 1
    ends = [text.find(ch, pos) for ch in _CLAUSE_ENDS]
    return start, min([e for e in ends if e >= 0] or [len(text)])


def received_award(reading: Reading, pos: int, lexicon: Lexicon) -> bool:
    """The clause at `pos` reports an award already received: a history word and, beside it, a money figure or a word
    naming an award (“新三板挂牌的时候拿过30万奖励”, “三个阶段的奖励我们都已经领过了”)."""
    words = lexicon.words

    def reports(start: int, end: int, after: int) -> bool:
        part = reading.text[start:end]
        if any(m.kind == "money" and m.history and after <= m.start < end for m in reading.mentions):
            return True  # “挂牌新三板拿了30万”
        return any(w in reading.text[after:end] for w in words.history) and (
            any(w in part for w in words.award_words)
            or any(m.kind == "money" and start <= m.start < end for m in reading.mentions))

    seg = reading.segments[reading.segment_of(pos)]
    if reports(seg.start, seg.end, seg.start):
        return True
    # a list of options ahead of the verb (“新三板、辅导备案、交易所受理三个阶段的奖励都已经领过了”)
    start, end = clause_span(reading.text, pos)
    return reports(start, end, pos)


def read_mentions(text: str, lexicon: Lexicon, as_of: dt.date) -> Reading:
    segs = segments(text)
    reading = Reading(text=text, segments=segs)
    labels = _year_labels(text, lexicon, as_of)
    reading.year_labels = labels
    dated = _date_labels(text, as_of)
    hearsay = _hearsay_spans(text, lexicon)
    reading.hearsay = hearsay
    words = lexicon.words
    for m in _raw_mentions(text):
        m.segment = reading.segment_of(m.start)
        seg = segs[m.segment]
        m.sentence = seg.sentence
        before = text[seg.start:m.start]
        after = text[m.end:seg.end]
        # the year: the nearest label before the figure in its sentence, else right after it in its segment
        year, part, part_word = None, False, ""
        sentence_start = next((s.start for s in segs if s.sentence == seg.sentence), 0)
        for start, end, y, is_part in labels:
            if sentence_start <= start and end <= m.start:
                if is_part and re.search(r"(到|截至|截止|直到)$", text[max(0, start - 2):start]):
                    continue  # “到年底一共35万”: up to the year's end is the whole year so far, not a part
                if is_part:
                    word = text[start:end]
                    # a part label counts in the figure's own segment; a list word (四个季度分别是…) over the sentence
                    if start >= seg.start or word in words.year_part_lists:
                        part, part_word = True, word
                else:
                    year = y
                    if part and part_word in words.year_part_lists:
                        part, part_word = False, ""  # a year label after the list word ends the list
        if year is None:
            nxt = next((y for start, end, y, is_part in labels if not is_part and m.end <= start < seg.end), None)
            year = nxt
        if m.kind == "date":
            year = m.value.year
        m.year, m.year_part, m.part_word = year, part, part_word
        # the dates: the nearest dated phrase before the figure in its sentence (more precise than the year)
        when = None
        for start, end, first, last in dated:
            if sentence_start <= start and end <= m.start:
                when = (first, last)
        if when is not None and year is not None and when[0].year != year and not part:
            when = None  # a later relative label (去年) is nearer than the dated phrase
        if when is None and year is not None:
            when = (dt.date(year, 1, 1), dt.date(year, 12, 31))
        m.when = when
        m.hearsay = any(a <= m.start < b for a, b in hearsay)
        tight = before[-6:]
        m.quote = m.kind in ("money", "percent") and any(tight.endswith(w) or tight.endswith(w + "是") or
                                                          tight.endswith(w + "给") for w in words.quote_before)
        m.threshold = m.kind in ("money", "count", "pflops", "percent") and (
            any(before.rstrip().endswith(w) for w in words.threshold_before)
            or any(after.lstrip().startswith(w) for w in words.threshold_after)
            or bool(re.search(r"(差|离|不到|没到|没达到|够不上|未达)[^，,。；;\d]{0,4}$", before)))
        m.denied = bool(re.search(r"(?:不是|并非|而不是|而非)\s*$", before))
        m.breakdown = any(w in before for w in words.breakdown)  # “其中10月10号以后是120万”: anywhere in its clause
        # an award already received: named in the figure's own clause, or just before a bare figure that
        # continues the same list (“分别拿了10万、20万”)
        bare = len(seg.text.replace(m.raw, "").strip()) <= 2
        prev = segs[m.segment - 1] if m.segment > 0 else None
        m.history = any(w in seg.text for w in words.history) or (
            m.kind == "money" and bool(re.search(r"(?:拿|领|获得|得)了\s*$", before))) or bool(
            bare and prev is not None and prev.sentence == seg.sentence and any(w in prev.text for w in words.history))
        m.add_on = any(w in before for w in words.add_on)
        m.own_label = _own_label(before, lexicon)
        m.plan = any(w in before for w in words.plan_words)
        dis = [(before.rfind(w), w) for w in words.distractors if w in before]
        dis += [(len(before) + 1, w) for w in words.distractors if after.startswith(w)]
        if dis:
            m.distractor_pos, m.distractor = max(dis)
        reading.mentions.append(m)
    # “9月买了20万，11月又买了20万，一共40万”: a total that restates the figures before it is not one more figure
    money = [m for m in reading.mentions if m.kind == "money" and not (m.hearsay or m.quote or m.threshold)]
    for k, m in enumerate(money):
        head = text[segs[m.segment].start:m.start]
        if k >= 2 and any(w in head for w in words.total_words):
            earlier = [e for e in money[:k] if not e.breakdown and not e.restates]
            for start in range(len(earlier) - 1):
                if len(earlier) - start >= 2 and sum(e.value for e in earlier[start:]) == m.value:
                    m.restates = True
                    break
    # “其中1-9月1100万，10月以后400万”: the figures after a breakdown in its sentence continue it
    for a, b in zip(reading.mentions, reading.mentions[1:]):
        if a.kind == b.kind == "money" and a.breakdown and not b.breakdown and a.sentence == b.sentence and \
                not b.add_on and not b.history and not b.distractor:
            b.breakdown = True
    # “5000万和1亿两档”: a figure joined to a tier label is a label too
    for a, b in zip(reading.mentions, reading.mentions[1:]):
        if a.kind == b.kind == "money" and b.threshold and a.segment == b.segment and \
                text[a.end:b.start].strip() in ("和", "、", "及", "与", "跟"):
            a.threshold = True
    return reading


def count_in(text: str) -> int | None:
    """A count named on its own: "三个", "5家" → 3, 5."""
    m = _COUNT_RE.search(text)
    if not m:
        return None
    try:
        return parse_count(m.group(1))
    except Exception:
        return None


def number_value(raw: str) -> Decimal | None:
    try:
        return parse_number(raw)
    except Exception:
        return None
