"""Binding the figures of a question to the facts of the programs in play (the fact vocabulary's cues as data).

A figure is bound by the words of its own clause (the cue nearest before it), by the topic of its sentence, or by a
spend verb when the program has a single amount left to fill. A figure whose clause names something else (another
fact, 注册资本, 纳税…) is not bound; hearsay, the policy's own wording, thresholds and breakdowns are never values.
Figures of one yearly total add up (上半年…下半年又…; 市级 + 县区); figures labelled by year are read by their
year; figures already received only fill history facts. One figure serves one fact.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from agent.reading import Mention, Reading, clause_span, received_award
from tools.errors import InvalidFactError
from tools.lexicon import Lexicon
from tools.money import format_number, format_yuan
from tools.schema import FactRead
from tools.vocab import FactDef, StatedDate, parse_fact

KIND_OF_UNIT = {"yuan": "money", "percent": "percent", "count": "count", "pflops": "pflops", "quantity": "quantity",
                "date": "date"}
NEAR_NEGATION = 4  # characters before a cue where a negation still applies (choices, amounts stated as none)
FAR_NEGATION = 10  # for yes/no facts: “没有在任何数据资产登记机构登记过”
# words that hold a negation character but negate no fact (“不低于全市规上…”, “非关联企业”, “非常”)
COMPARATIVES = r"不低于|不少于|不超过|不高于|不到|不足|不仅|不但|无论|非关联|非常|无关联"


@dataclass
class FactMention:
    """One fact as read: its value as used, the year it belongs to, and the words of the question it came from."""

    fact: str
    value: Any
    source_text: str
    year: int | None = None
    origin: str = "question"  # question | earlier_turn | assumed
    span: tuple[int, int] | None = None


@dataclass
class BoundFacts:
    values: dict[str, Any] = field(default_factory=dict)
    mentions: dict[str, FactMention] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    # several values for one fact: per year (yearly programs) or per item (each capped on its own)
    series_by_year: dict[str, dict[int, Any]] = field(default_factory=dict)
    # the figures behind an amount, with the dates of their activity (for the period a program covers)
    parts: dict[str, list[tuple[Any, tuple[dt.date, dt.date] | None, str]]] = field(default_factory=dict)
    # a dated breakdown of an amount (“全年500万，其中10月10号以后是120万”): the part of a period
    sub_parts: dict[str, list[tuple[Any, tuple[dt.date, dt.date], str]]] = field(default_factory=dict)
    # a series stated for more years than the program reads (2023、2024、2025年的研发费用): year → value
    series_years: dict[str, dict[int, Any]] = field(default_factory=dict)
    # a date given only to the year or month (“2023年取得”): the first and last day it may be
    date_ranges: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)

    def set(self, name: str, value: Any, source: str, year: int | None = None, span=None) -> None:
        self.values[name] = value
        self.mentions[name] = FactMention(name, value, source, year, span=span)
        self.unknown.discard(name)


# --- cue scores ---------------------------------------------------------------------------------------------
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_DIGIT = re.compile(r"\d")


def _cue_hit(cues: Iterable[str], before: str, after: str) -> tuple[int, int]:
    """(score, distance) of the best cue before the figure in its clause (or just after it); (0, 99) if none."""
    best = (0, 99)
    noun: str | None = None  # the words after the figure, read only when a cue is not found before it
    reach = 10
    for cue in cues:
        if not cue:
            continue
        pos = before.rfind(cue)
        if pos >= 0:
            dist = len(before) - pos - len(cue)
            best = max(best, (len(cue) * 10 - dist, -dist))
        else:
            if noun is None:
                # the noun after a figure (“22万登记过的语料数据产品”, “90万平台上架的算法模型服务”) is read up to the
                # next figure; English puts the noun after too (“3百万 yuan of 算力”)
                noun = _DIGIT.split(after, maxsplit=1)[0]
                reach = 20 if _LATIN_WORD.search(noun[:20]) else 10
            k = noun.find(cue)
            if 0 <= k <= reach:
                best = max(best, (len(cue) * 10 - 15 - k, -(k + 20)))
    return best[0], -best[1]


def _scores(fd: FactDef, reading: Reading, m: Mention, local: bool = False) -> tuple[int, int, str]:
    """(score, distance, how): 'own' clause cue, 'topic' cue earlier in the sentence, or nothing."""
    seg = reading.segments[m.segment]
    before = reading.text[seg.start:m.start]
    after = m.unit_word + reading.text[m.end:seg.end] if m.kind == "count" else reading.text[m.end:seg.end]
    if local:
        # a cue standing before an earlier figure of the clause names that figure (“买了22万语料数据产品和35万算法模型
        # 服务”): the caller reads this figure's own words first, the whole clause only when they name nothing
        prev = [o.end for o in reading.mentions if o.kind == m.kind and seg.start <= o.end <= m.start and o is not m]
        if prev:
            # “22万语料数据产品和35万…”: the words before a joiner are the earlier figure's noun
            before = re.split(r"和|及|与|、|还有|另外|以及", reading.text[max(prev):m.start])[-1]
    score, dist = _cue_hit(fd.cues, before, after)
    if score > 0:
        return score + _topic_bonus(fd, reading, m), dist, "own"
    # the sentence's topic: a cue in an earlier clause of the same sentence, for a figure whose own clause names
    # nothing else (“上半年买了18万，下半年又买了27万”)
    if m.own_label:
        return 0, 99, ""
    prev = [s for s in reading.segments[:m.segment] if s.sentence == seg.sentence]
    for back, s in enumerate(reversed(prev)):
        sc, _ = _cue_hit(fd.cues, s.text, "")
        if sc > 0:
            return max(1, sc // 2 - 5 * back), 99, "topic"
    return 0, 99, ""


def _topic_bonus(fd: FactDef, reading: Reading, m: Mention) -> int:
    """Nearer topic words before the figure, in its sentence, score higher (0 without one)."""
    if not fd.topics:
        return 0
    start = min(s.start for s in reading.segments if s.sentence == reading.segments[m.segment].sentence)
    head = reading.text[start:m.start]
    ends = [head.rfind(t) + len(t) for t in fd.topics if t in head]
    if not ends:
        return 0
    return max(1, 40 - (len(head) - max(ends)) // 2)


def _negated(text: str, pos: int, lexicon: Lexicon, window: int = NEAR_NEGATION) -> bool:
    """A negation word shortly before `pos` in the same clause (没上架, 不是国家级, 没有在…登记过)."""
    start = max(0, pos - window)
    cut = max(text.rfind(ch, start, pos) for ch in "，,。；;！!？?\n ")  # a space separates clauses too
    before = re.sub(COMPARATIVES, "", text[max(start, cut + 1):pos])
    return any(n in before for n in lexicon.words.negations)


def _clause_around(text: str, pos: int) -> str:
    start, end = clause_span(text, pos)
    return text[start:end]


# --- the binder ------------------------------------------------------------------------------------------------
class FactBinder:
    """Reads the facts named by `names` (a program's or several programs' facts) from one question."""

    def __init__(self, vocab: Mapping[str, FactDef], lexicon: Lexicon, region_words: Iterable[str] = ()):
        self.lexicon = lexicon
        self.region_words = sorted(set(region_words), key=len, reverse=True)
        # a fact also answers to other facts' cues that its own label contains (“研发投入” names 项目研发投入总额
        # too), so a broader fact of the vocabulary never takes a figure from the narrower one in play
        numeric = ("yuan", "percent", "count", "pflops", "quantity")
        all_cues = {c for fd in vocab.values() if fd.unit in numeric for c in fd.cues if len(c) >= 3}
        self.vocab = {n: fd.model_copy(update={"cues": list(dict.fromkeys(
            [*fd.cues, *(c for c in all_cues if c in fd.label and c not in fd.cues)]))}) if fd.unit in numeric else fd
            for n, fd in vocab.items()}

    def bind(self, reading: Reading, names: Iterable[str], as_of: dt.date,
             prior_years: Mapping[str, int | None] | None = None,
             name_spans: Iterable[tuple[tuple[int, int], frozenset, bool]] = ()) -> BoundFacts:
        """`name_spans`: where the question names programs (“上市挂牌奖励”, “国家级专精特新”); an option word inside a
        program's name is not a fact (挂牌 in 上市挂牌奖励 is not the 新三板挂牌 stage)."""
        names = list(dict.fromkeys(names))
        name_spans = tuple(name_spans)
        wanted = [self.vocab[n] for n in names if n in self.vocab]
        out = BoundFacts()
        used: set[int] = set()
        for unit in ("yuan", "percent", "count", "pflops", "quantity"):
            # derived quantities may be stated directly (“比去年增长25%”)
            plain = [fd for fd in wanted if fd.unit == unit and not fd.threshold and not fd.ordinal]
            self._bind_numbers(reading, plain, unit, out, used, prior_years or {},
                               [fd for fd in wanted if fd.unit == unit and fd.threshold])
        self._bind_dates(reading, [fd for fd in wanted if fd.unit == "date"], out)
        self._bind_ranks(reading, [fd for fd in wanted if fd.ordinal], out, used)
        for fd in wanted:
            if self._stated_by_phrase(reading, fd, fd.overriding_phrases, out):
                continue
            if fd.name not in out.values:
                self._stated_by_phrase(reading, fd, fd.value_phrases, out)
            if fd.name in out.values or fd.derived and fd.unit != "bool":
                continue
            if fd.unit == "bool":
                self._bind_bool(reading, fd, out)
            elif fd.unit == "choice":
                self._bind_choice(reading, fd, out, name_spans)
            elif fd.unit in ("yuan", "quantity") and not fd.derived and self._stated_none(reading.text, fd):
                out.set(fd.name, 0, self._source(reading.text, fd.cues))
        return out

    # numbers ---------------------------------------------------------------------------------------------
    def _bind_numbers(self, reading: Reading, facts: list[FactDef], unit: str, out: BoundFacts, used: set[int],
                      prior_years: Mapping[str, int | None], tiers: list[FactDef] = ()) -> None:
        if not facts and not tiers:
            return
        kind = KIND_OF_UNIT[unit]
        everyone = [fd for fd in self.vocab.values() if fd.unit == unit and not fd.threshold and not fd.ordinal]
        edges: list[tuple[int, int, Mention, FactDef]] = []
        loose: list[Mention] = []
        for idx, m in enumerate(reading.mentions):
            if m.kind != kind or id(m) in used or m.hearsay or m.quote or m.restates or m.denied:
                continue
            if m.threshold:
                self._tier_mention(reading, m, list(tiers), out, used)
                continue
            scored = {fd.name: _scores(fd, reading, m, local=True) for fd in everyone}
            if not any(sc[2] == "own" for sc in scored.values()):
                scored = {fd.name: _scores(fd, reading, m) for fd in everyone}
            own_best = max(((s[0], n) for n, s in scored.items() if s[2] == "own"), default=(0, ""))
            any_hit = False
            for fd in facts:
                score, dist, how = scored[fd.name]
                if score <= 0 or (m.breakdown and how != "own"):
                    continue  # a breakdown (“其中…”) counts only when its own words name the fact
                if fd.history and how != "own" and not m.history:
                    continue  # an award received: named in its own clause, or continuing a list of awards received
                if self._blocked(reading, m, fd, dist):
                    continue
                if own_best[0] > 0 and own_best[1] != fd.name and how != "own":
                    continue  # the clause names another fact
                if own_best[0] > score and self.vocab[own_best[1]].series != fd.series or (
                        own_best[0] > score and fd.series is None):
                    continue  # another fact of the vocabulary owns this clause
                edges.append((score, -m.start, m, fd))
                any_hit = True
            if not any_hit and not m.distractor and not m.history and not m.breakdown and own_best[0] == 0 and (
                    self._spend_like(reading, m) or kind == "pflops"):
                loose.append(m)
        edges.sort(key=lambda e: (e[0], e[1]), reverse=True)
        series_members = {fd.name for fd in facts if fd.series and sum(1 for o in facts if o.series == fd.series) > 1}
        series_mentions: dict[str, list[Mention]] = {}
        best_of: dict[int, int] = {}
        for score, _, m, fd in edges:
            best_of[id(m)] = max(best_of.get(id(m), score), score)
        for score, _, m, fd in edges:
            if score < best_of[id(m)]:
                continue  # another fact's cue names this figure better (“MaaS营收” is MaaS收入, not 营收)
            if fd.name in series_members and m not in series_mentions.setdefault(fd.series, []):
                series_mentions[fd.series].append(m)
        # a labelled figure with no cue of its own joins a series named in an earlier turn (“去年是520万”)
        for fd in facts:
            if fd.name in series_members and prior_years.get(fd.name):
                for m in loose:
                    if m.year is not None and m not in series_mentions.setdefault(fd.series, []):
                        series_mentions[fd.series].append(m)
        for ms in series_mentions.values():
            used.update(id(m) for m in ms)
        taken: dict[str, list[Mention]] = {}
        for score, _, m, fd in edges:
            if fd.name in series_members:
                continue
            if id(m) in used:
                continue
            have = taken.get(fd.name, [])
            if have and not self._adds_up(fd, have, m):
                continue
            taken.setdefault(fd.name, []).append(m)
            used.add(id(m))
        for name, ms in taken.items():
            # “总销售收入860万，其中市内销售收入320万”: the part its own words name is the value, not the whole
            named_parts = [m for m in ms if m.breakdown]
            if named_parts and len(named_parts) < len(ms):
                taken[name] = [m for m in ms if m.breakdown or m.sentence not in {b.sentence for b in named_parts}]
        self._resolve_series(reading, facts, taken, series_mentions, prior_years, out)
        for name, ms in taken.items():
            # “2023年…35万；2024年全年120万；2025年只买了28万”: bare figures of other years continue a yearly total
            fd = self.vocab[name]
            years = {m.year for m in ms}
            if fd.aggregate == "sum" and fd.unit == "yuan" and None not in years:
                first = min(m.sentence for m in ms)
                more = [m for m in reading.mentions if m.kind == "money" and id(m) not in used and m.plain
                        and not m.history and not m.distractor and m.year is not None and m.year not in years
                        and m.sentence >= first and not any(_scores(o, reading, m)[2] == "own" for o in everyone
                                                            if o.name != name)]
                for m in more:
                    ms.append(m)
                    used.add(id(m))
                    years.add(m.year)
        for name, ms in taken.items():
            self._store(reading, self.vocab[name], ms, out)
        # a figure next to a spend verb fills the one amount still missing; “一分钱都没给” states it as 0
        free = [fd for fd in facts if fd.name not in out.values and not fd.history and not fd.series
                and unit in ("yuan", "pflops")]
        zero = next((w for w in self.lexicon.words.zero_words if w in reading.text), None)
        if len(free) == 1 and zero and not loose:
            out.set(free[0].name, 0, _clause_around(reading.text, reading.text.find(zero)))
            return
        loose = [m for m in loose if id(m) not in used]
        if len(free) == 1 and loose:
            same_year = [m for m in loose if m.year == loose[0].year]
            if len(same_year) == len(loose) or len({m.year for m in loose}) == 1:
                for m in loose:
                    used.add(id(m))
                self._store(reading, free[0], loose, out)

    def _blocked(self, reading: Reading, m: Mention, fd: FactDef, dist: int) -> bool:
        seg = reading.segment_text(m.segment)
        if any(c in seg for c in fd.negative_cues):
            return True
        if m.history and not fd.history:
            return True
        if fd.history and not m.history and (12 < dist < 20 or dist > 26):
            return True  # (an award named right after the figure, “拿了10万元的规模上台阶奖励”, is close: dist 20–26)
        if m.distractor:
            before_len = m.start - reading.segments[m.segment].start
            distractor_dist = before_len - m.distractor_pos - len(m.distractor)
            if m.distractor_pos > before_len or distractor_dist < dist:
                return True
        return False

    def _spend_like(self, reading: Reading, m: Mention) -> bool:
        seg = reading.segments[m.segment]
        before = reading.text[seg.start:m.start]
        return any(v in before for v in self.lexicon.words.spend_verbs) or before.strip() == ""

    @staticmethod
    def _adds_up(fd: FactDef, have: list[Mention], m: Mention) -> bool:
        """A further figure for a fact already bound: kept when the fact is a yearly total (figures of one year add
        up; figures of other years are kept per year)."""
        return fd.aggregate == "sum"

    def _resolve_series(self, reading: Reading, facts: list[FactDef], taken: dict[str, list[Mention]],
                        series_mentions: dict[str, list[Mention]], prior_years: Mapping[str, int | None],
                        out: BoundFacts) -> None:
        """Facts that are one quantity in consecutive years (研发费用 this year / last year): bind by year."""
        by_series: dict[str, list[FactDef]] = {}
        for fd in facts:
            if fd.series:
                by_series.setdefault(fd.series, []).append(fd)
        for series, members in by_series.items():
            if len(members) < 2:
                continue
            # a part of a year (“今年上半年做到7000万”) is not that year's figure; all its parts together are
            ms = self._whole_years(reading, series_mentions.get(series, []))
            ms = [m for m in ms if not m.year_part or m.add_on]
            if not ms:
                continue
            ms = sorted(set(ms), key=lambda m: m.start)
            offsets = {fd.offset: fd for fd in members}
            known_years = {fd.offset: prior_years.get(fd.name) for fd in members if prior_years.get(fd.name)}
            if all(m.year is not None for m in ms) or known_years:
                anchor = max([m.year for m in ms if m.year is not None] + [y for y in known_years.values() if y] or [0])
                if known_years and 0 in known_years and known_years[0]:
                    anchor = max(anchor, known_years[0])
                for m in ms:
                    off = (m.year - anchor) if m.year is not None else 0
                    fd = offsets.get(off)
                    if fd is not None and fd.name not in taken:
                        taken[fd.name] = [m]
                years = {m.year: m.value for m in ms if m.year is not None}
                if len(years) > len(members) and len(years) == len([m for m in ms if m.year is not None]):
                    out.series_years[series] = years  # more years than the program reads: one item per year
                continue
            # no years: a cue that names one member keeps it; the rest fill the offsets in text order
            order = sorted(offsets)[::-1]  # 0, -1, ...
            for m in ms:
                specific = max(members, key=lambda fd: _scores(fd, reading, m)[0])
                if _scores(specific, reading, m)[0] > max(_scores(o, reading, m)[0] for o in members if o is not specific) \
                        and specific.name not in taken:
                    taken[specific.name] = [m]
            for m in ms:
                if any(m in v for v in taken.values()):
                    continue
                for off in order:
                    if offsets[off].name not in taken:
                        taken[offsets[off].name] = [m]
                        break

    def _whole_years(self, reading: Reading, ms: list[Mention]) -> list[Mention]:
        """Figures for every part of one year (上半年+下半年, 四个季度分别是A、B、C、D) become that year's total."""
        words = self.lexicon.words
        out = list(ms)
        for m in ms:
            if not m.year_part or m not in out:
                continue
            peers = [o for o in reading.mentions if o.kind == m.kind and o.year_part and o.year == m.year
                     and o.sentence == m.sentence and o.plain and not o.history]
            group: list[Mention] = []
            if m.part_word in words.year_part_lists:
                group = [o for o in peers if o.part_word == m.part_word]
                if len(group) != words.year_part_lists[m.part_word]:
                    group = []
            else:
                for parts in words.year_part_sets:
                    if m.part_word not in parts:
                        continue
                    candidate = [o for o in peers if o.part_word in parts]
                    if sorted(o.part_word for o in candidate) == sorted(parts):
                        group = candidate
                        break
            if not group:
                continue
            whole = Mention(kind=m.kind, value=sum((o.value for o in group), 0), start=group[0].start,
                            end=group[-1].end, raw="+".join(o.raw for o in group), segment=group[0].segment,
                            sentence=m.sentence, year=m.year, when=m.when)
            if m.year is not None:
                whole.when = (dt.date(m.year, 1, 1), dt.date(m.year, 12, 31))
            out = [o for o in out if o not in group]
            out.append(whole)
        return sorted(out, key=lambda o: o.start)

    def _store(self, reading: Reading, fd: FactDef, ms: list[Mention], out: BoundFacts) -> None:
        years = {m.year for m in ms}
        source = "；".join(_clause_around(reading.text, m.start) for m in ms)
        span = (min(m.start for m in ms), max(m.end for m in ms))
        if fd.unit == "yuan":
            out.parts[fd.name] = [(m.value, m.when, m.raw) for m in ms]
            for m in ms:
                later = [b for b in reading.mentions if b.kind == "money" and b.breakdown and b.sentence == m.sentence
                         and b.start > m.end and b.when and m.when and b.when != m.when]
                for b in later:
                    out.sub_parts.setdefault(fd.name, []).append((b.value, b.when, _clause_around(reading.text, b.start)))
        if fd.unit == "yuan" and len(years - {None}) > 1:
            per_year: dict[int, Any] = {}
            for m in ms:
                per_year[m.year or 0] = per_year.get(m.year or 0, 0) + m.value
            out.series_by_year[fd.name] = per_year
            latest = max(y for y in per_year if y)
            out.set(fd.name, per_year[latest], source, latest, span)
            return
        value: Any = sum((m.value for m in ms), 0) if fd.unit == "yuan" else ms[0].value
        if fd.unit == "percent":
            value = f"{value}%"
        elif fd.unit == "pflops":
            value = f"{value}P"
        elif fd.unit == "quantity":
            value = str(value)
        year = next((m.year for m in ms if m.year is not None), None)
        out.set(fd.name, value, source, year, span)

    def _tier_mention(self, reading: Reading, m: Mention, facts: list[FactDef], out: BoundFacts, used: set[int]) -> None:
        """“首次超过1亿”: a threshold that is itself the value of a fact whose cue names the crossing."""
        head = reading.text[:m.start].rstrip()
        for fd in facts:
            if any(head.endswith(cue) for cue in fd.cues if len(cue) >= 3):
                out.set(fd.name, m.value, _clause_around(reading.text, m.start), m.year, (m.start, m.end))
                used.add(id(m))

    # other kinds ---------------------------------------------------------------------------------------------
    def _bind_dates(self, reading: Reading, facts: list[FactDef], out: BoundFacts) -> None:
        dates = reading.of_kind("date")
        if not facts or not dates:
            return
        self._bind_date_values(reading, facts, dates, out)
        for fd in facts:  # a year or a month is a range of days, not its first day
            m = next((d for d in dates if out.mentions.get(fd.name) and out.mentions[fd.name].span == (d.start, d.end)),
                     None)
            if m is not None and m.unit_word in ("year", "month"):
                out.values[fd.name] = StatedDate.of(m.value, m.unit_word)
                out.mentions[fd.name].value = out.values[fd.name]
            if m is not None and m.unit_word == "year":
                out.date_ranges[fd.name] = (dt.date(m.value.year, 1, 1), dt.date(m.value.year, 12, 31))
            elif m is not None and m.unit_word == "month":
                nxt = dt.date(m.value.year + m.value.month // 12, m.value.month % 12 + 1, 1)
                out.date_ranges[fd.name] = (m.value.replace(day=1), nxt - dt.timedelta(days=1))

    def _bind_date_values(self, reading: Reading, facts: list[FactDef], dates: list[Mention], out: BoundFacts) -> None:
        if len(facts) == 1 and len(dates) >= 1:
            # the date nearest to the fact's cue, else the first
            fd = facts[0]
            best = min(dates, key=lambda d: min([abs(d.start - reading.text.find(c)) for c in fd.cues
                                                  if c in reading.text] or [99 + d.start]))
            out.set(fd.name, best.value, _clause_around(reading.text, best.start), best.value.year, (best.start, best.end))
            return
        for fd in facts:
            hits = [(abs(d.start - reading.text.find(c)), d) for c in fd.cues if c in reading.text for d in dates]
            if hits:
                d = min(hits, key=lambda h: h[0])[1]
                out.set(fd.name, d.value, _clause_around(reading.text, d.start), d.value.year, (d.start, d.end))
        remaining = [fd for fd in facts if fd.name not in out.values]
        if remaining and dates:
            d = dates[0]
            out.set(remaining[0].name, d.value, _clause_around(reading.text, d.start), d.value.year, (d.start, d.end))

    def _bind_ranks(self, reading: Reading, facts: list[FactDef], out: BoundFacts, used: set[int]) -> None:
        ranks = [m for m in reading.of_kind("rank") if id(m) not in used]
        for fd in facts:
            if ranks:
                out.set(fd.name, ranks[0].value, _clause_around(reading.text, ranks[0].start), None,
                        (ranks[0].start, ranks[0].end))
                used.add(id(ranks[0]))

    def _bind_bool(self, reading: Reading, fd: FactDef, out: BoundFacts) -> None:
        """A yes/no fact from its cues: every mention is read; a negated one (没上架, 不是国家级的小巨人) wins, an
        'I don't know' makes it unknown, a question about it (是否上架?) states nothing."""
        text = reading.text
        words = self.lexicon.words
        for cue in fd.negative_cues:
            pos = text.find(cue)
            if pos >= 0 and not reading.in_hearsay(pos) and not _negated(text, pos, self.lexicon):
                out.set(fd.name, False, _clause_around(text, pos), span=(pos, pos + len(cue)))
                return
        found: list[tuple[bool, int, int, str]] = []  # (stated value, start, end, clause)
        taken: list[tuple[int, int]] = []
        for cue in sorted(fd.cues, key=len, reverse=True):
            if cue not in text:
                continue
            for m in re.finditer(re.escape(cue), text):
                pos, end = m.start(), m.end()
                if reading.in_hearsay(pos) or any(not (end <= a or pos >= b) for a, b in taken):
                    continue
                taken.append((pos, end))
                clause = _clause_around(text, pos)
                tail = text[end:end + 14]
                if any(w in clause for w in words.unknown_answers) or any(w in tail for w in words.unknown_answers):
                    out.unknown.add(fd.name)
                    out.mentions[fd.name] = FactMention(fd.name, None, clause, span=(pos, end))
                    return
                before = text[max(0, pos - 4):pos]
                if re.match(r"^.{0,4}?(吗|么|嘛|\?|？|与否)", text[end:]) or any(before.endswith(q) for q in words.question_before):
                    continue
                value = not _negated(text, pos, self.lexicon, window=FAR_NEGATION)
                found.append((value != fd.inverted, pos, end, clause))
        if not found:
            return
        # “没被列入经营异常名录或失信名单”: a negation covers the items joined to its own by 或/和/及/、
        found.sort(key=lambda f: f[1])
        for i in range(1, len(found)):
            prev, cur = found[i - 1], found[i]
            prev_negated = prev[0] == fd.inverted
            between = text[prev[2]:cur[1]]
            if prev_negated and cur[0] != prev[0] and cur[3] == prev[3] and \
                    re.search(r"或者|或|和|及|以及|与|、|也", between) and not any(n in between for n in words.negations):
                found[i] = (prev[0], cur[1], cur[2], cur[3])
        value, pos, end, clause = min(found, key=lambda f: (f[0], f[1]))  # a denial anywhere decides
        out.set(fd.name, value, clause, span=(pos, end))

    def _bind_choice(self, reading: Reading, fd: FactDef, out: BoundFacts,
                     name_spans: tuple = ()) -> None:
        text = scan = reading.text
        for w in self.region_words:
            if w not in scan:
                continue
            # a region's name is no option, but its level is (“厦门市级”, “福建省级” keep 市级 / 省级)
            scan = re.sub(re.escape(w) + r"(?=级)", lambda m: "#" * (len(m.group(0)) - 1) + m.group(0)[-1], scan)
            level = re.search(r"(?:国家|省|市|区|县)级$", w)  # a place alias that carries a level (福建省级)
            keep = level.group(0) if level else ""
            scan = scan.replace(w, "#" * (len(w) - len(keep)) + keep)
        hits: list[tuple[int, int, str]] = []
        denied: list[int] = []
        for choice in fd.choices:
            for alias in {choice.label, *choice.aliases}:
                if len(alias) < 2 or alias not in scan:
                    continue
                for m in re.finditer(re.escape(alias), scan):
                    if reading.in_hearsay(m.start()):
                        continue  # “听说国家级场景给20万”: hearsay names no fact of the enterprise
                    if fd.multiple and self._received_award(reading, m.start()):
                        continue  # “新三板挂牌的时候拿过30万奖励”: a stage already rewarded is history
                    if any(a <= m.start() < b and (fd.name not in facts or award) for (a, b), facts, award in name_spans):
                        continue  # part of a program's name, not a statement about the enterprise
                    if _negated(scan, m.start(), self.lexicon):
                        denied.append(m.start())
                        continue  # “拿的是省级不是国家级”: a choice named to deny it
                    hits.append((m.start(), m.start() + len(alias), choice.key))
        # “挂牌了（区域性股权市场，不是新三板）”: an option denied by name is not taken from a looser word either
        denied_keys = {k for p in denied for c in fd.choices for k in [c.key]
                       if any(scan.startswith(a, p) for a in {c.label, *c.aliases} if len(a) >= 2)}
        hits = [h for h in hits if h[2] not in denied_keys]
        if not hits:
            other = next((c for c in fd.choices if c.key == "other"), None)
            if other is not None and denied:
                out.set(fd.name, other.key, "；".join(dict.fromkeys(_clause_around(text, p) for p in denied)))
            return
        # longest non-overlapping matches
        hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
        taken: list[tuple[int, int, str]] = []
        for h in hits:
            if all(h[1] <= t[0] or h[0] >= t[1] for t in taken):
                taken.append(h)
        taken.sort()
        keys = list(dict.fromkeys(k for _, _, k in taken))
        source = "；".join(dict.fromkeys(_clause_around(text, s) for s, _, _ in taken))
        if fd.multiple:
            order = [c.key for c in fd.choices]
            out.set(fd.name, sorted(keys, key=order.index), source, span=(taken[0][0], taken[-1][1]))
        else:
            # the option in the clause that names the fact wins (“省级人工智能示范应用场景…；国家级…备案”); else the most
            # specific (longest) alias
            cue_at = [m.start() for c in fd.cues if len(c) >= 2 for m in re.finditer(re.escape(c), text)]
            near = [h for h in taken if any(0 <= p - h[1] <= 12 and _clause_around(text, p) == _clause_around(text, h[0])
                                            for p in cue_at)]
            keys_near = {h[2] for h in near}
            pool = near if len(keys_near) == 1 else taken
            best = max(pool, key=lambda h: (h[1] - h[0], -h[0]))
            out.set(fd.name, best[2], source, span=(best[0], best[1]))

    @staticmethod
    def _stated_by_phrase(reading: Reading, fd: FactDef, phrases: Mapping[str, Any], out: BoundFacts) -> bool:
        """The first of `phrases` the question says (not as hearsay) sets the fact to its value."""
        for phrase, value in phrases.items():
            pos = reading.text.find(phrase)
            if pos >= 0 and not reading.in_hearsay(pos):
                out.set(fd.name, value, _clause_around(reading.text, pos))
                return True
        return False

    def _received_award(self, reading: Reading, pos: int) -> bool:
        return received_award(reading, pos, self.lexicon)

    def _stated_none(self, text: str, fd: FactDef) -> bool:
        """“以前没拿过规模奖励”: an amount stated as none."""
        for cue in fd.cues:
            pos = text.find(cue)
            if pos >= 0 and _negated(text, pos, self.lexicon):
                return True
        return False

    @staticmethod
    def _source(text: str, cues: Iterable[str]) -> str:
        for cue in cues:
            pos = text.find(cue)
            if pos >= 0:
                return _clause_around(text, pos)
        return ""


def show_value(fd: FactDef, value: Any) -> str:
    """A bound value as the answer's 'facts read' block shows it."""
    if value is None:
        return "未说明"
    if fd.unit == "yuan":
        return format_yuan(value)
    if fd.unit == "bool":
        return "是" if value else "否"
    if fd.unit == "choice":
        keys = value if isinstance(value, (list, tuple)) else [value]
        return "、".join(fd.choice(k).label for k in keys if any(c.key == k for c in fd.choices))
    if fd.unit == "date":
        return f"{value.year}年{value.month}月{value.day}日" if isinstance(value, dt.date) else str(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


# --- facts as read, and corrections ------------------------------------------------------------------------------
def normalize_value(fd: FactDef, raw: Any) -> Any:
    """A value a person typed (a fact chip, `facts_override`) in the form the binder binds: integer yuan, '25%', '500P',
    true/false, choice key(s), a date. Raises InvalidFactError (Chinese, naming what was typed) when unreadable."""
    typed = parse_fact(fd, raw)
    if typed is None:  # a yes/no fact answered with neither
        raise InvalidFactError(f"“{fd.label}”请填写“是”或“否”（您填写的是“{raw}”）。")
    if fd.unit == "yuan":
        return int(typed) if typed.denominator == 1 else Decimal(typed.numerator) / Decimal(typed.denominator)
    if fd.unit == "count":
        return int(typed)
    if fd.unit == "percent":
        return f"{format_number(typed)}%"
    if fd.unit == "pflops":
        return f"{format_number(typed)}P"
    if fd.unit == "quantity":
        return format_number(typed)
    if fd.unit == "choice":
        return list(typed) if isinstance(typed, tuple) else typed
    return typed


def json_value(value: Any) -> Any:
    """A bound value as JSON carries it (Decimal yuan as text, dates in ISO form, tuples as lists)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value


def fact_read(fd: FactDef, mention: FactMention | None, origin: str, value: Any = None) -> FactRead:
    """What the answer shows for one fact: label, value as used, the year, the question's words, the origin."""
    value = mention.value if mention is not None else value
    choices = [{"key": c.key, "label": c.label} for c in fd.choices] if fd.unit == "choice" else []
    return FactRead(fact=fd.name, label=fd.label, value=json_value(value), display=show_value(fd, value),
                    unit=fd.unit, year=mention.year if mention is not None else None,
                    source_text=mention.source_text if mention is not None else "", origin=origin,  # type: ignore
                    choices=choices)


ORIGIN_NOTE = {"earlier_turn": "上文所述", "assumed": "按规定推定，如不符请更正", "corrected": "已更正"}


def facts_block_text(facts: list[FactRead] | list[dict]) -> str:
    """The compact block an answer shows first: “我读到的信息：年度购买算力服务总额 80万元（“去年买算力花了80万”，2025年）；
    具有独立法人资格：是（按规定推定，如不符请更正）”. Empty when the answer used no facts."""
    parts = []
    for f in facts:
        f = f.model_dump() if hasattr(f, "model_dump") else f
        notes = []
        if f.get("source_text") and f.get("origin") in ("question", "earlier_turn", "corrected"):
            notes.append(f"原话“{f['source_text']}”" if f.get("origin") == "corrected" else f"“{f['source_text']}”")
        if f.get("year"):
            notes.append(f"{f['year']}年")
        if f.get("origin") in ORIGIN_NOTE:
            notes.append(ORIGIN_NOTE[f["origin"]])
        parts.append(f"{f['label']}：{f['display']}" + (f"（{'，'.join(notes)}）" if notes else ""))
    return "我读到的信息：" + "；".join(parts) if parts else ""
