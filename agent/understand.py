"""Understanding a question: a typed `Understanding` built from the catalog's lexicon, nothing else.

normalize (traditional → simplified, NFKC, English terms, typos) → regions and places (covered, inside a covered
region without documents of their own, outside the corpus) → intents (several at once) → program mentions (names and
aliases) → the figures of the question with their context (agent/reading.py). Facts are bound later, once the
programs in play are known (agent/facts.py).
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from agent.reading import Reading, read_mentions
from tools.catalog import PolicyCatalog
from tools.rules import Program

MAX_PROGRAMS = 4


@dataclass
class InputProblem:
    code: str
    message: str
    status: str


@dataclass
class ProgramMention:
    program_id: str
    score: int
    alias: str
    span: tuple[int, int] = (0, 0)
    via: str = "alias"  # alias | fact (a figure labelled with one of the program's amounts)


@dataclass
class Understanding:
    question: str
    text: str
    english: bool
    regions: list[str] = field(default_factory=list)
    places: list[tuple[str, str]] = field(default_factory=list)  # (place without documents, its region)
    own_policy_place: str | None = None
    outside: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    programs: list[ProgramMention] = field(default_factory=list)
    reading: Reading | None = None
    injection: bool = False
    rule_edit: bool = False
    greeting: bool = False
    out_of_scope: bool = False
    correction: bool = False
    unknown_answer: bool = False
    policy_words: bool = False
    strong_policy_words: bool = False

    def has(self, intent: str) -> bool:
        return intent in self.intents

    @property
    def has_figures(self) -> bool:
        return bool(self.reading and any(m.kind in ("money", "percent", "pflops", "quantity") and m.plain
                                         for m in self.reading.mentions))

    @property
    def has_money(self) -> bool:
        return bool(self.reading and any(m.kind == "money" for m in self.reading.mentions))


def check_input(question: object, max_chars: int, examples: dict[str, str] | None = None) -> InputProblem | None:
    if not isinstance(question, str) or not question.strip() or not re.sub(r"[\s\u200b-\u200f\u2060\ufeff]", "", question):
        shown = [q for q in ((examples or {}).get("question"), (examples or {}).get("conditions")) if q]
        hint = "例如：" + "或".join(f"“{q}”" for q in shown) if shown else "写明企业所在地区、想问的补助和相关金额。"
        return InputProblem("empty_question", "请输入您的问题。" + hint, "needs_info")
    if len(question) > max_chars:
        return InputProblem(
            "question_too_long",
            f"问题过长（{len(question)}字），请精简到{max_chars}字以内：写明企业所在地区、想问的补助和相关金额即可。",
            "refused",
        )
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in question) or "\x00" in question:
        return InputProblem("invalid_text", "问题中含有无法识别的字符，请删除特殊字符后重新输入。", "needs_info")
    return None


class Reader:
    """Builds `Understanding`s from one catalog (its lexicon, regions and programs)."""

    def __init__(self, catalog: PolicyCatalog):
        self.catalog = catalog
        lex = catalog.lexicon
        users: dict[str, int] = {}
        for p in catalog.programs:
            if not p.implements:
                for n in p.facts:
                    users[n] = users.get(n, 0) + 1
        self._distinctive = {n for n, k in users.items() if k <= 2 and not catalog.facts[n].presumed}
        self.intent_words = {k: tuple(v) for k, v in lex.intents.intents.items()}
        self.intent_patterns = {k: [re.compile(p) for p in v] for k, v in lex.intents.patterns.items()}
        self.priority = tuple(lex.intents.priority)
        self._names: dict[str, list[tuple[str, frozenset[str], str]]] = {}

    # --- pieces -------------------------------------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        return self.catalog.normalizer.normalize(text)

    def is_injection(self, text: str) -> bool:
        return any(p.search(text) for p in self.catalog.lexicon.injection_res)

    def regions(self, text: str) -> tuple[list[str], list[tuple[str, str]]]:
        low = text.lower()
        taken = [False] * len(low)
        found: list[str] = []
        for surface, key in self.catalog.lexicon.region_names:
            start = low.find(surface)
            while start >= 0:
                end = start + len(surface)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * (end - start)
                    if key not in found:
                        found.append(key)
                start = low.find(surface, end)
        places = []
        for surface, name, key in self.catalog.lexicon.place_names:
            if surface in low and (name, key) not in places:
                places.append((name, key))
        return found, places

    def own_policy_place(self, text: str, places: list[tuple[str, str]]) -> str | None:
        """A place without documents of its own asked about for its OWN policy (“湖里区有什么AI补贴”), when the
        question does not also name the region whose documents cover it."""
        low = text.lower()
        if places and any(w in text for w in self.catalog.lexicon.own_policy_strong):
            return places[0][0]  # “翔安区自己出台的区级政策”: its own policy, whatever else is named
        if any(a.lower() in low for r in self.catalog.regions for a in r.aliases):
            return None  # a covered region is named: the place only says where the enterprise is
        if any(w in text for w in self.intent_words.get("stacking", ())):
            return None  # “能和火炬高新区的同类政策叠加吗” asks about this corpus's stacking rule
        for name, key in places:
            surfaces = [s for s, n, _ in self.catalog.lexicon.place_names if n == name and s in low]
            if any(w in text for w in self.catalog.lexicon.own_policy_words) or any(
                    re.search(re.escape(s) + r".{0,16}(政策|补贴|补助|扶持|奖励|措施|券)", low) for s in surfaces):
                return name
        return None

    def intents(self, text: str) -> list[str]:
        # words whose characters would spell a cue across a word boundary (“人工智能补贴” holds “能补”) are masked
        for word in self.catalog.lexicon.words.intent_masks:
            text = text.replace(word, "#" * len(word))
        return [i for i in self.priority if any(w in text for w in self.intent_words.get(i, ()))
                or any(p.search(text) for p in self.intent_patterns.get(i, ()))]

    @staticmethod
    def alias_match(alias: str, text: str) -> tuple[int, tuple[int, int]]:
        """(score, span): 2×len for an exact alias hit; slightly less when the alias's characters appear in order
        with short gaps (“人工智能职称” in “人工智能高级职称”); (0, (0, 0)) when absent."""
        if not alias:
            return 0, (0, 0)
        k = text.find(alias)
        if k >= 0:
            return 2 * len(alias), (k, k + len(alias))
        if len(alias) < 4:
            return 0, (0, 0)
        pos, gaps, prev, first = 0, 0, None, None
        for ch in alias:
            found = text.find(ch, pos)
            if found < 0:
                return 0, (0, 0)
            if prev is not None:
                gaps += found - prev - 1
            if gaps > 4:
                return 0, (0, 0)
            first = found if first is None else first
            prev, pos = found, found + 1
        return 2 * len(alias) - 3, (first or 0, pos)

    @classmethod
    def alias_score(cls, alias: str, text: str) -> int:
        return cls.alias_match(alias, text)[0]

    def program_mentions(self, text: str) -> list[ProgramMention]:
        lowered = text.lower()
        chars = set(lowered)
        out: list[ProgramMention] = []
        for program in self.catalog.programs:
            best: tuple[int, tuple[int, int], str] = (0, (0, 0), "")
            for low, letters, alias in self._program_names(program):
                # alias_match finds nothing when a letter of the alias is missing from the text: skip it unread
                if low in lowered or (len(low) >= 4 and letters <= chars):
                    score, span = self.alias_match(low, lowered)
                    if score > best[0]:
                        best = (score, span, alias)
            if best[0]:
                # words of the program's own facts (联合体, 单体智能算力) tell apart programs named alike
                bonus = sum(2 for n in program.facts if n in self._distinctive
                            for c in self.catalog.facts[n].cues if len(c) >= 3 and c in text)
                out.append(ProgramMention(program.id, best[0] + min(bonus, 6), best[2], best[1]))
        order = {p.id: i for i, p in enumerate(self.catalog.programs)}
        out.sort(key=lambda m: (-m.score, order[m.program_id]))
        return out

    def _program_names(self, program: Program) -> list[tuple[str, frozenset[str], str]]:
        """(lowercased name, its letters, name) of each name and alias of a program, worked out once."""
        names = self._names.get(program.id)
        if names is None:
            names = self._names[program.id] = [(a.lower(), frozenset(a.lower()), a) for a in program.names()]
        return names

    def fact_mentions(self, u: "Understanding") -> list[ProgramMention]:
        """Programs named by their amounts: a figure whose own clause carries a cue of a program's formula input
        (“公共智能算力60万” → the programs computed from 年度购买算力服务总额)."""
        from agent.facts import _cue_hit

        if u.reading is None:
            return []
        vocab = self.catalog.facts
        money_facts = [fd for fd in vocab.values() if fd.unit == "yuan" and not fd.threshold]
        out: list[ProgramMention] = []
        for m in u.reading.mentions:
            if m.kind != "money" or not m.plain or m.distractor:
                continue
            seg = u.reading.segments[m.segment]
            before, after = u.text[seg.start:m.start], u.text[m.end:seg.end]
            scored = sorted(((_cue_hit(fd.cues, before, after)[0], fd.name) for fd in money_facts), reverse=True)
            if not scored or scored[0][0] <= 0:
                continue
            best = scored[0][0]
            names = {n for sc, n in scored if sc == best}
            found = []
            for program in self.catalog.programs:
                inputs = set(program.formula.inputs())
                inputs |= {vocab[n].derived.current for n in inputs if vocab[n].derived}
                if inputs & names:
                    found.append(ProgramMention(program.id, best // 10 + 2 + self._named_facts(program, u.text),
                                                "", (m.start, m.end), via="fact"))
            top = max((f.score for f in found), default=0)
            out.extend(f for f in found if f.score == top)  # the program whose other facts are named too
        return out

    def _named_facts(self, program: Program, text: str) -> int:
        """How many of a program's own facts the question names (cues of 3+ characters, choice names)."""
        n = 0
        for name in program.facts:
            fd = self.catalog.facts[name]
            words = [c for c in fd.cues if len(c) >= 3] + [a for ch in fd.choices for a in (ch.label, *ch.aliases)
                                                          if len(a) >= 3]
            n += any(w in text for w in words) and name in self._distinctive
        return n

    def _by_spans(self, mentions: list[ProgramMention], regions: list[str]) -> list[Program]:
        """Greedy by score: a program is taken when its alias span overlaps no better program's span (the same
        words naming programs of several regions, with no region given, name each of them)."""
        cat = self.catalog
        picked: list[tuple[ProgramMention, Program]] = []
        for m in mentions:
            program = cat.program(m.program_id)
            if regions and cat.region_of(program) not in regions:
                continue
            clash = [(pm, pp) for pm, pp in picked if not (m.span[1] <= pm.span[0] or m.span[0] >= pm.span[1])]
            if clash:
                same_words = all(pm.score == m.score for pm, _ in clash)
                other_region = all(cat.region_of(pp) != cat.region_of(program) for _, pp in clash)
                if not (same_words and other_region and not regions):
                    continue
            picked.append((m, program))
        return [p for _, p in picked]

    # --- the whole ------------------------------------------------------------------------------------------------
    def understand(self, question: str, as_of: dt.date) -> Understanding:
        lex = self.catalog.lexicon
        words = lex.words
        english = self.catalog.normalizer.has_english(unicodedata.normalize("NFKC", question))
        text = self.normalize(question)
        regions, places = self.regions(text)
        u = Understanding(question=question, text=text, english=english, regions=regions, places=places)
        u.outside = self.catalog.outside_places(text)
        u.own_policy_place = self.own_policy_place(text, places)
        u.intents = self.intents(text)
        u.programs = self.program_mentions(text)
        u.reading = read_mentions(text, lex, as_of)
        u.injection = self.is_injection(text)
        u.rule_edit = any(p.search(text) for p in lex.rule_edit_res)
        stripped = re.sub(r"[\W_]+", "", text.lower())
        greeting_left = stripped
        for g in sorted(words.greetings, key=len, reverse=True):
            greeting_left = greeting_left.replace(g.lower(), "")
        u.greeting = bool(stripped) and not greeting_left
        u.out_of_scope = any(w in text for w in words.out_of_scope)
        u.correction = any(w in text for w in words.corrections)
        u.unknown_answer = any(w in text for w in words.unknown_answers)
        u.policy_words = any(w in text for w in words.policy_words)
        u.strong_policy_words = any(w in text for w in words.strong_policy_words)
        if u.greeting:
            u.intents = ["smalltalk"]
        return u

    def programs_in(self, u: Understanding, regions: list[str], explicit_regions: bool) -> list[Program]:
        """The programs the question names, best first, limited to its regions when it names some. Each part of the
        question names one program (a longer alias wins its span); programs named by their amounts join them."""
        cat = self.catalog
        picked = self._by_spans(u.programs, regions)
        # programs named by their amounts join only when the question states more amounts than the named programs use
        fact_hits = self.fact_mentions(u)
        figures: dict[tuple[int, int], set[str]] = {}
        for fm in fact_hits:
            figures.setdefault(fm.span, set()).update(cat.program(fm.program_id).formula.inputs())
        covered = lambda span: any(set(p.formula.inputs()) & figures[span] for p in picked)  # noqa: E731
        for span in sorted(figures):
            if covered(span):
                continue
            for fm in (f for f in fact_hits if f.span == span):
                program = cat.program(fm.program_id)
                if program in picked or program.implements:
                    continue
                if regions and cat.region_of(program) not in regions:
                    continue
                if not regions and picked and cat.region_of(program) not in {cat.region_of(p) for p in picked}:
                    continue
                picked.append(program)
        if picked:
            return picked[:MAX_PROGRAMS]
        scored = [(m.score, cat.program(m.program_id)) for m in u.programs]
        if regions:
            in_region = [sc for sc in scored if cat.region_of(sc[1]) in regions]
            if in_region or explicit_regions:
                scored = in_region
        if not scored:
            return []
        overall_top = scored[0][0]
        by_region: dict[str, list[tuple[int, Program]]] = {}
        for score, program in scored:
            by_region.setdefault(cat.region_of(program), []).append((score, program))
        money = u.reading.of_kind("money") if u.reading else []
        chosen: list[Program] = []
        for region, items in by_region.items():
            top = items[0][0]
            if not (len(regions) > 1 and region in regions) and top < overall_top - 2:
                continue  # another region's program matched far better
            chosen.extend(pr for sc, pr in items[:3] if sc >= top - 1 or (sc >= 8 and len(money) >= 2))
        return chosen[:MAX_PROGRAMS]
