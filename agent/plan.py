"""Planning: from an `Understanding` and the session to a `Plan` — what kind of answer, about which programs, with
which facts (bound once) and which items. The renderer executes the plan's calculations through the tools.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from agent.facts import BoundFacts, FactBinder, FactMention, _negated
from agent.reading import received_award
from agent.session import SessionState
from agent.understand import Reader, Understanding
from tools.catalog import PolicyCatalog
from tools.errors import InvalidFactError
from tools.rules import Program

# The retriever's calibrated "nothing relevant" decision is trusted, except that a question plainly about subsidies
# (strong policy words) whose best clause still scores this high is answered from that clause.
RELEVANCE_ACCEPT_ANCHORED = 0.3
# A question with no policy vocabulary and no covered region must match a clause this strongly ("2023年度指什么").
RELEVANCE_UNANCHORED = 0.6
# a clause's number before its title (“第三条”, “（二）”, “3、”)
_CLAUSE_NUMBER = re.compile(r"^(第[一二三四五六七八九十]+条|[（(][一二三四五六七八九十0-9]+[)）]|[一二三四五六七八九十0-9]+、)\s*")
LOOKUP_INTENTS = ("stacking", "validity", "can_apply", "deadline", "channel", "materials", "contacts", "conditions",
                  "definition", "interpreter")
# lookups a question may ask for beside its main one (“申请条件和要准备的材料有哪些”)
SECOND_LOOKUPS = ("conditions", "materials", "validity", "deadline", "list", "contacts")
FOLLOW_UP_INTENTS = ("amount", "eligibility", "conditions", "materials", "deadline", "channel", "validity", "can_apply",
                     "stacking", "contacts", "compare")
PRONOUNS = ("这个", "那个", "这项", "那项", "它", "这条", "那条", "这一条", "上面", "刚才", "同样", "这个呢", "那这个",
            "如果", "要是", "假如", "换成", "改成", "那笔", "这笔")


def further_lookups(u: Understanding, *exclude: str) -> list[str]:
    """The further lookups a question asks for beside its main one (“条件和材料”, “是什么、有效期多久”)."""
    return [i for i in u.intents if i in SECOND_LOOKUPS and i not in exclude]


def unique(programs: list[Program]) -> list[Program]:
    """Programs in order, each once (programs are compared by id: their models hold lists)."""
    seen: set[str] = set()
    return [p for p in programs if not (p.id in seen or seen.add(p.id))]


@dataclass
class Item:
    """One thing capped on its own (a product, a standard, a project, a person, a year) with its facts."""

    label: str
    facts: dict[str, Any]
    count: int = 1


@dataclass
class Plan:
    kind: str  # refuse | smalltalk | outside | own_policy | out_of_scope | clause | calculate | profile | lookup |
    #            list | search | not_found
    intent: str = "search"
    programs: list[Program] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    docs: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # facts for the calculator (shared vocabulary names)
    bound: BoundFacts | None = None
    reading: Any = None  # the question's mentions (dates of the activity when no dated amount is given)
    presumed: list[str] = field(default_factory=list)  # facts presumed true (stated as assumptions)
    presumed_names: list[str] = field(default_factory=list)
    mentions: dict[str, FactMention] = field(default_factory=dict)  # the facts used, as read (origin marked)
    items: dict[str, list[Item]] = field(default_factory=dict)  # program id → items capped on their own
    clause_id: str | None = None
    retrieved: list[str] = field(default_factory=list)
    continuing: bool = False
    note: str = ""
    also: list[str] = field(default_factory=list)  # further lookups the question asks for
    when: tuple[dt.date, dt.date] | None = None  # a follow-up's new dates for the carried amounts


class Planner:
    def __init__(self, catalog: PolicyCatalog, reader: Reader, tools):
        self.catalog = catalog
        self.reader = reader
        self.tools = tools
        region_words = [a for r in catalog.regions for a in r.aliases] + \
                       [a for r in catalog.regions for p in r.places for a in p.aliases]
        self.binder = FactBinder(catalog.facts, catalog.lexicon, region_words)
        self._titles: dict[str, str] = {}  # clause id → its title without its number (named_clause)

    # --- the plan ---------------------------------------------------------------------------------------------------
    def plan(self, u: Understanding, state: SessionState, as_of: dt.date) -> Plan:
        cat = self.catalog
        if u.injection:
            return Plan("refuse")
        if u.greeting:
            return Plan("smalltalk")
        if u.outside and not u.regions:
            return Plan("outside", note="、".join(u.outside))
        if u.own_policy_place:
            return Plan("own_policy", regions=[k for _, k in u.places][:1], note=u.own_policy_place)
        regions = u.regions or ([state.region] if state.region else [])
        named = self.named_clause(u.text, regions)
        if named is not None and not cat.programs_citing(named):
            return Plan("clause", clause_id=named, regions=regions)
        term = self.asked_term(u, regions)
        if term is not None:  # “AI券是什么？能抵扣什么？有效期多久？”: the defining clause, then the further lookups
            topical = self.topic_programs(u.text, regions, whole_document=False) if u.has("list") and regions else []
            return Plan("clause", clause_id=term, regions=regions, note="term", programs=topical,
                        also=(["standards"] if topical else []) + further_lookups(u, "list"),
                        docs=[cat.clause(term).doc_id])
        programs = self.reader.programs_in(u, regions, explicit_regions=bool(u.regions))
        if programs and not u.programs and state.program_ids and not u.regions:
            # named by a figure's cue only (“漏了，县区那边还实际补了900万”): when the program under discussion reads
            # that figure too, the follow-up stays with it
            current = [cat.program(pid) for pid in state.program_ids if cat.has_program(pid)]
            amounts = {n for p in current for n in p.facts if cat.facts[n].unit in ("yuan", "quantity", "pflops")}
            if any(c in u.text for n in amounts for c in cat.facts[n].cues if len(c) >= 2):
                programs = current
        defined = self.defined_period(u.text, regions)
        asks_period = u.has("definition") or any(w in u.text for w in cat.lexicon.words.period_questions)
        if defined is not None and asks_period and not u.has_money and not (programs and u.has_figures):
            return Plan("clause", clause_id=defined, regions=regions)  # “2023年度是整个2023年吗？”
        if programs and state.program_ids and any(w in u.text for w in cat.lexicon.words.running_total_words):
            # “另外还买了语料数据25万…这个加上一共多少”: the total runs over the programs of earlier turns too
            earlier = [cat.program(pid) for pid in state.program_ids if cat.has_program(pid)]
            earlier = [p for p in earlier if p not in programs and (not regions or cat.region_of(p) in
                                                                  {k for r in regions for k in cat.ancestors(r)})]
            programs = earlier + programs
        continuing = False
        if not programs and state.program_ids:
            programs, continuing = self.continue_programs(u, state)
        if u.out_of_scope and not u.has_figures:
            return Plan("out_of_scope", programs=programs, regions=regions)
        retrieved: list[str] = []
        if (not programs or u.has("list")) and (u.has("list") or u.has("method")) and not u.has_figures and regions:
            topical = self.topic_programs(u.text, regions, whole_document=not programs)
            if topical:  # “跟算力相关的支持有哪些，分别怎么支持”: each program on the topic with its standard
                plan = Plan("lookup", intent="standards", programs=topical, regions=regions)
                plan.also = further_lookups(u, "list")  # “…每个方向要交什么材料”
                return plan
        if not programs and (u.policy_words or u.regions or u.english):
            programs, retrieved = self.programs_from_retrieval(u, regions)
        elif programs and len(u.regions) > 1 and (u.has("compare") or u.has("amount") or u.has_figures):
            for region in u.regions:
                more = [cp for p in programs if cat.region_of(p) != region
                        and (cp := cat.counterpart(p, region)) is not None]
                if not more and not any(cat.region_of(p) == region for p in programs):
                    more = self.programs_from_retrieval(u, [region])[0]
                programs = unique(programs + more)
        if u.regions:
            state.region = u.regions[0] if len(u.regions) == 1 else state.region
        intent = self.primary_intent(u, programs)
        bare_follow_up = u.text.startswith(("那", "如果", "要是", "换成")) or u.text.rstrip("?？ ").endswith("呢")
        if (continuing or bare_follow_up) and intent == "search" and state.last_intent and not u.has_figures:
            intent = state.last_intent
        state.last_intent = intent
        if intent == "profile" or (intent == "list" and u.has_figures and regions) or (
                u.has("profile") and regions and not u.has("compare") and not u.has("stacking")):
            return self.profile_plan(u, state, as_of, regions)
        if not programs:
            return self.programless_plan(u, intent, regions)
        programs = self.prefer_guide_or_measure(programs, intent if not u.has_figures else "amount")
        plan = Plan("calculate", intent=intent, programs=programs, regions=regions, retrieved=retrieved,
                    continuing=continuing)
        self.bind(u, state, plan, as_of)
        if intent not in ("materials", "deadline", "channel"):
            self.guide_for_period(plan, u)
            if any(p.implements for p in plan.programs):
                self.bind(u, state, plan, as_of)  # the guide's own conditions bring facts of their own
        states_facts = bool(plan.bound and plan.bound.values) or (intent == "search" and (
            self.carries_facts(programs, state) or not self.residual(u.text, programs)))
        # the enterprise's own options with their ranks, counts or dates are computed (“2项国家标准分别排第2和第6”);
        # options only listed (“二级、三级、四级…上限分别多少”) ask for the standards
        computes = bool(plan.bound and set(plan.bound.values) & {n for p in plan.programs for n in p.formula.inputs()}
                        and u.reading and any(m.kind in ("rank", "count", "date") for m in u.reading.mentions))
        # (“12月20日刚完成辅导备案，上市奖励能拿多少？措施今天还有效吗”: the option stated is computed, its status first)
        stated_inputs = bool(plan.bound and set(plan.bound.values) & {n for p in plan.programs for n in p.formula.inputs()})
        if intent in ("compare", "method") and not u.has_figures and not (computes and u.has("amount")):
            # (“2项国家标准分别排第2和第6…一共最多多少”: the options and ranks it states are computed, not described)
            plan.kind = "lookup"
            plan.intent = "standards"
        elif intent in ("conditions", "definition") and not u.has_figures and not u.has("eligibility"):
            plan.kind = "lookup"
        elif intent == "stacking" and not u.has_figures and not u.has("amount"):
            plan.kind = "lookup"
        elif intent == "can_apply" and plan.bound and set(plan.bound.values) & {
                c.fact for p in programs for c in p.conditions}:
            pass  # “还能申请吗” with a fact a condition reads: check it (the yes/no line leads the answer)
        elif plan.bound and any(plan.bound.values.get(c.fact) is False for p in programs for c in p.conditions):
            pass  # a condition stated as not met (“被列入了经营异常名录…可以吗”) is checked whatever else is asked
        elif intent in ("validity", "can_apply", "deadline", "channel", "materials", "contacts", "interpreter") \
                and not (states_facts and u.has_figures) and not (computes and u.has("amount")) \
                and not (intent in ("validity", "can_apply") and u.has("amount") and stated_inputs):
            plan.kind = "lookup"
        elif intent in ("conditions", "definition") and not states_facts:
            plan.kind = "lookup"
        elif intent == "search" and not states_facts:
            plan.kind = "search"
            plan.docs = [p.doc_id for p in programs]
        if plan.kind == "lookup":
            plan.also = further_lookups(u, plan.intent, *(("list",) if programs else ()))
        return plan

    def programless_plan(self, u: Understanding, intent: str, regions: list[str]) -> Plan:
        plan = self._programless_plan(u, intent, regions)
        if plan.kind in ("lookup", "list"):
            plan.also = further_lookups(u, plan.intent)
        return plan

    def _programless_plan(self, u: Understanding, intent: str, regions: list[str]) -> Plan:
        cat = self.catalog
        docs = [d for r in regions for d in cat.docs_of(r)]
        if (intent in ("conditions", "materials") or (intent == "eligibility" and u.has("conditions"))) and regions:
            intent = "materials" if intent == "materials" else "conditions"
            programs = [p for r in regions for p in cat.programs_of(r)]
            if intent == "materials":
                programs = [p for p in programs if p.materials] or programs
            else:
                programs = [p for p in programs if not p.implements] or programs
            return Plan("lookup", intent=intent, programs=programs, regions=regions, docs=docs)
        if intent in ("validity", "can_apply", "deadline", "channel", "stacking", "interpreter", "contacts") and docs:
            return Plan("lookup", intent=intent, regions=regions, docs=docs)
        if intent in ("list", "profile"):
            return Plan("list", intent=intent, regions=regions)
        # an amount question naming no program: the clause it is about, or the region's programs when none fits
        return Plan("search", intent=intent, regions=regions)

    # --- facts ----------------------------------------------------------------------------------------------------
    def fact_names(self, programs: list[Program]) -> list[str]:
        vocab = self.catalog.facts
        names = [n for p in programs for n in p.facts]
        names += [n for n, fd in vocab.items() if fd.derived and fd.derived.current in names and n not in names]
        return list(dict.fromkeys(names))

    def bind(self, u: Understanding, state: SessionState, plan: Plan, as_of: dt.date) -> None:
        """Facts for the plan's programs: this question's, merged over the session's, plus presumed ones."""
        vocab = self.catalog.facts
        names = self.fact_names(plan.programs)
        prior_years = {n: m.year for n, m in state.facts.items()}
        # where the question names programs: an option word inside another program's name, or inside a program's
        # name for its award (“上市挂牌奖励”), is not a fact about the enterprise
        spans = [(pm.span, frozenset(cat_p.facts),
                  bool(re.search(r"(奖励|补助|补贴|奖补|券)", pm.alias[-2:] + u.text[pm.span[1]:pm.span[1] + 2])))
                 for pm in u.programs if pm.via == "alias" and (cat_p := self.catalog.program(pm.program_id))]
        bound = self.binder.bind(u.reading, names, as_of, prior_years, spans) if u.reading else BoundFacts()
        plan.bound = bound
        plan.reading = u.reading
        merged: dict[str, FactMention] = {}
        displaced: list[FactMention] = []  # earlier figures of a series a new figure takes the place of
        for name, m in state.facts.items():
            if name in names:
                merged[name] = FactMention(name, m.value, m.source_text, m.year, origin="earlier_turn")
        for name, m in state.facts.items():  # the same quantity under the new program's wording
            for other in self.equivalents(name):
                if other in names and other not in merged and other not in state.facts:
                    merged[other] = FactMention(other, m.value, m.source_text, m.year, origin="earlier_turn")
        for name, m in bound.mentions.items():
            old = merged.get(name)
            fd = vocab[name]
            if (old is not None and fd.series and old.year and m.year == old.year and old.value != m.value
                    and not u.correction and any(w in m.source_text for g in self.catalog.lexicon.words.year_labels
                                                 for w in g.words if g.offset < 0)):
                # “2025年450万” then “去年是380万”: 去年 is the year before the one under discussion, not a correction
                m = FactMention(name, m.value, m.source_text, old.year - 1, origin=m.origin, span=m.span)
            if old is not None and fd.series and old.year and m.year and old.year != m.year:
                displaced.append(old)
            if (old is not None and fd.aggregate == "sum" and not u.correction and m.value is not None
                    and old.value is not None and self._adds_to_earlier(u) and (m.year is None or old.year == m.year)):
                total = self._restated_total(u, bound, name, old.value)
                value = total if total is not None else old.value + m.value
                merged[name] = FactMention(name, value, old.source_text + "；" + m.source_text, m.year)
            else:
                merged[name] = m
        for name in bound.unknown:
            merged.pop(name, None)
        self._reseat_series(merged, names, displaced)
        removed = self._apply_corrections(state, names, merged)
        # remember everything this turn stated (for later turns), whatever the programs
        for name, m in merged.items():
            if m.origin in ("question", "corrected") or name not in state.facts:
                state.facts[name] = FactMention(name, m.value, m.source_text, m.year)
        for name in bound.unknown:
            state.facts.pop(name, None)
        if u.reading and not any(m.kind == "money" for m in u.reading.mentions) and any(
                m.origin == "earlier_turn" for m in merged.values()):
            from agent.reading import _date_labels

            spans = _date_labels(u.text, as_of)
            if spans:
                plan.when = (spans[-1][2], spans[-1][3])
        facts = {n: m.value for n, m in merged.items() if m.value is not None}
        presumed = [n for n in names if vocab[n].presumed and n not in facts and n not in bound.unknown
                    and n not in removed]
        for n in presumed:
            facts[n] = True
        plan.presumed = [vocab[n].label for n in presumed]
        plan.presumed_names = presumed
        plan.mentions = merged
        plan.facts = facts
        plan.items = self.items_for(plan, bound, u)

    def _apply_corrections(self, state: SessionState, names: list[str], merged: dict[str, FactMention]) -> set[str]:
        """The person's corrections of this question's facts (a fact chip, `facts_override`) win over what was read;
        None removes a fact (and its presumption). A correction of a fact no program in play uses is refused."""
        vocab = self.catalog.facts
        unused = [n for n in state.corrections if n not in names]
        if unused:
            usable = "、".join(vocab[n].label for n in names if not vocab[n].derived)
            raise InvalidFactError(f"“{'、'.join(vocab[n].label for n in unused)}”不是这次测算用到的信息，无法据此更正。"
                                   f"可以更正的有：{usable}。", code="unrelated_fact")
        removed: set[str] = set()
        for name, value in state.corrections.items():
            old = merged.get(name)
            if value is None:
                merged.pop(name, None)
                state.facts.pop(name, None)
                removed.add(name)
            else:
                merged[name] = FactMention(name, value, old.source_text if old else "", old.year if old else None,
                                           origin="corrected")
        return removed

    def equivalents(self, name: str) -> list[str]:
        vocab = self.catalog.facts
        fd = vocab.get(name)
        out = [fd.same_as] if fd is not None and fd.same_as else []
        return out + [n for n, other in vocab.items() if other.same_as == name]

    def _reseat_series(self, merged: dict[str, FactMention], names: list[str],
                       displaced: list[FactMention] = ()) -> None:
        """Figures of one series from several turns (“前年300万” then “上年是450万”) take their places by year:
        the latest year is this year's figure, the one before it last year's."""
        vocab = self.catalog.facts
        series: dict[str, list] = {}
        for n in names:
            if vocab[n].series:
                series.setdefault(vocab[n].series, []).append(vocab[n])
        for members in series.values():
            present = [merged[fd.name] for fd in members if fd.name in merged]
            present += [d for d in displaced if any(d.fact == fd.name for fd in members)
                        and all(d.year != m.year for m in present)]
            stated = [m for m in present if m.year]
            # only figures from several turns are reseated, and only when every one of them carries its year
            if len(stated) < 2 or len(stated) != len(present) or not any(m.origin != "question" for m in stated):
                continue
            latest = max(m.year for m in stated)
            by_offset = {fd.offset: fd for fd in members}
            placed: dict[str, FactMention] = {}
            for m in sorted(stated, key=lambda m: (m.origin != "question", -m.year)):
                fd = by_offset.get(m.year - latest)
                if fd is not None and fd.name not in placed:
                    placed[fd.name] = FactMention(fd.name, m.value, m.source_text, m.year, origin=m.origin)
            if placed:
                for fd in members:
                    merged.pop(fd.name, None)
                merged.update(placed)

    def _restated_total(self, u: Understanding, bound: BoundFacts, name: str, earlier: Any) -> Any:
        """“漏了，12月还有一笔1.5万，全年加起来是6.3万”: a total this turn states that equals the earlier amount plus
        this turn's other parts (the total is then the amount, not one more part)."""
        reading = u.reading
        if reading is None:
            return None
        words = self.catalog.lexicon.words.total_words
        money = [m for m in reading.of_kind("money") if m.plain and not m.history]
        for m in money:
            seg = reading.segments[m.segment]
            if not any(w in reading.text[seg.start:m.start] for w in words):
                continue
            others = sum((o.value for o in money if o is not m and o.start < m.start), 0)
            if earlier + others == m.value:
                return m.value
        return None

    def _adds_to_earlier(self, u: Understanding) -> bool:
        """The figure is one more part of what an earlier turn stated (又/另外…; “漏了，县区还补了900万”)."""
        words = self.catalog.lexicon.words
        return bool(u.reading and any(m.add_on for m in u.reading.mentions)) or any(
            w in u.text for w in words.follow_up_additions)

    def guide_for_period(self, plan: Plan, u: Understanding) -> None:
        """A measure with a yearly application guide: questions about the guide's period (“2023年度”, activity in
        2023-10-10…2023-12-31) are answered under the guide, whose own conditions then apply."""
        cat = self.catalog
        out = []
        for program in plan.programs:
            guide = cat.guide_for(program)
            period = cat.activity_period(guide) if guide else None
            if guide is None or period is None:
                out.append(program)
                continue
            named = period.label in u.text
            dated = [w for n in program.formula.inputs() for _, w, _ in (plan.bound.parts.get(n, []) if plan.bound else [])
                     if w]
            slack = dt.timedelta(days=31)  # “2023年10月以后” names the guide's period at the month's grain
            within = bool(dated) and all(period.from_ - slack <= w[0] and period.from_ <= w[1] <= period.to for w in dated)
            out.append(guide if named or within else program)
        plan.programs = unique(out)

    def items_for(self, plan: Plan, bound: BoundFacts, u: Understanding) -> dict[str, list[Item]]:
        """Items computed on their own: the years of a yearly program, the products / standards / projects /
        people of a program that caps each item."""
        items: dict[str, list[Item]] = {}
        for program in plan.programs:
            if program.per_item and u.reading is not None:
                found = self.choice_items(program, plan, u) or self.chunk_items(program, plan, u)
                if found:
                    items[program.id] = found
                    continue
            series_items = self.series_items(program, plan, bound)
            if series_items:
                items[program.id] = series_items
                continue
            for name in program.formula.inputs():
                per_year = bound.series_by_year.get(name)
                if per_year and program.period == "每年":
                    items[program.id] = [Item(f"{y}年", {**plan.facts, name: v, "activity_year": y})
                                         for y, v in sorted(per_year.items()) if y]
        return items

    def series_items(self, program: Program, plan: Plan, bound: BoundFacts) -> list[Item]:
        """A yearly program read from consecutive years (本年度 and 上年度研发费用) given for more years than one
        pair: one item per year that has its previous years, each computed on its own."""
        vocab = self.catalog.facts
        members = [vocab[n] for n in program.facts if n in vocab and vocab[n].series]
        for series in {fd.series for fd in members}:
            years = bound.series_years.get(series)
            own = {fd.offset: fd.name for fd in members if fd.series == series}
            if not years or len(own) < 2 or program.period != "每年":
                continue
            items = []
            for y in sorted(years):
                if all(y + off in years for off in own):
                    facts = {**plan.facts, **{name: years[y + off] for off, name in own.items()}, "activity_year": y}
                    items.append(Item(f"{y}年", facts))
            if len(items) > 1:
                return items
        return []

    def _item_facts(self, program: Program, plan: Plan, text: str, as_of: dt.date) -> dict[str, Any]:
        from agent.reading import read_mentions

        bound = self.binder.bind(read_mentions(text, self.catalog.lexicon, as_of), program.facts, as_of)
        return {**plan.facts, **bound.values}

    def choice_items(self, program: Program, plan: Plan, u: Understanding) -> list[Item]:
        """Items named by the program's choice (国际标准1项…国家标准2项; A进了甲目录…B进了乙目录;
        3个人拿到中级…1个拿到高级): one window of the question per named option, with its count and its figures."""
        from agent.reading import read_mentions

        choice = getattr(program.formula, "choice_fact", None)
        if not choice:
            return []
        fd = self.catalog.facts[choice]
        text, reading = u.text, u.reading
        hits: list[tuple[int, int, str]] = []
        for c in fd.choices:
            for alias in {c.label, *c.aliases}:
                if len(alias) < 2:
                    continue
                for m in re.finditer(re.escape(alias), text):
                    if reading.in_hearsay(m.start()) or _negated(text, m.start(), self.catalog.lexicon):
                        continue
                    if fd.multiple and received_award(reading, m.start(), self.catalog.lexicon):
                        continue  # a stage already rewarded is history, not an item of this question
                    if any(pm.program_id != program.id and pm.span[0] <= m.start() < pm.span[1] for pm in u.programs):
                        continue  # “国家级专精特新小巨人” names another program, not this program's 国家级 option
                    hits.append((m.start(), m.end(), c.key))
        hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        anchors: list[tuple[int, int, str]] = []
        for h in hits:
            if not anchors or h[0] >= anchors[-1][1]:
                last = anchors[-1] if anchors else None
                between = text[last[1]:h[0]] if last else ""
                if last and last[2] == h[2] and not re.search(r"[；;。\d]", between):
                    anchors[-1] = (last[0], h[1], h[2])  # “国家级人工智能产业创新任务揭榜优胜项目”: one option named twice
                    continue
                anchors.append(h)
        if len(anchors) < 1:
            return []
        items: list[Item] = []
        # each option's window runs from the start of its clause to the start of the next option's clause
        starts = []
        prev_end = 0
        for a, b, key in anchors:
            clause_start = max(text.rfind(ch, prev_end, a) for ch in "，,。；;：:") + 1
            starts.append(max(prev_end, clause_start))
            prev_end = b
        starts.append(len(text))
        for k, (a, b, key) in enumerate(anchors):
            window = text[starts[k]:starts[k + 1]]
            w_reading = read_mentions(window, self.catalog.lexicon, dt.date.today())
            if any(m.history for m in w_reading.mentions) or any(h in window for h in self.catalog.lexicon.words.history):
                continue  # an award already received is not an item of this question
            count = 1
            # the count of this option stands in its own clause (“2项国家标准”), not in a later one (“两个都推介了”)
            own_clause_end = min([i for i in (window.find(ch, a - starts[k]) for ch in "，,。；;") if i >= 0]
                                 or [len(window)])
            counts = [m for m in w_reading.mentions if m.kind == "count" and m.unit_word in program.item_units
                      and m.start < own_clause_end]
            if counts:
                count = counts[0].value
            facts = {**self._item_facts(program, plan, window, dt.date.today()), choice: key}
            ranks = [m for m in w_reading.mentions if m.kind == "rank"]
            label = fd.choice(key).label
            if len(ranks) > 1 and count == len(ranks):
                for r in ranks:
                    rank_fact = next((n for n in program.facts if self.catalog.facts[n].ordinal), None)
                    sub = dict(facts)
                    if rank_fact:
                        sub[rank_fact] = r.value
                    items.append(Item(f"{label}（{r.raw}）", sub, 1))
                continue
            items.append(Item(label, facts, max(count, 1)))
        if len(items) == 1 and items[0].count == 1:
            return []
        return items

    def chunk_items(self, program: Program, plan: Plan, u: Understanding) -> list[Item]:
        """Items without a named option (“一个AI芯片项目…；另一个操作系统项目…”): the question split at item
        markers, each part with its own figures."""
        from agent.reading import read_mentions

        markers = [m for m in self.catalog.lexicon.words.item_markers if m in u.text] + [m for m in ("；", ";") if m in u.text]
        if not markers:
            return []
        pattern = "|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True))
        cuts = [m.start() for m in re.finditer(pattern, u.text)]
        pieces = [u.text[a:b] for a, b in zip([0] + cuts, cuts + [len(u.text)])]
        inputs = [n for n in program.formula.inputs() if self.catalog.facts[n].unit == "yuan"]
        # figures the whole question gives to another program's fact (其智算中心的900万) are not this program's items
        others = [fm.span for n, fm in (plan.bound.mentions.items() if plan.bound else [])
                  if n not in inputs and fm.span and self.catalog.facts[n].unit == "yuan"]
        money = u.reading.of_kind("money") if u.reading else []
        items = []
        for start, piece in zip([0] + cuts, pieces):
            own = [m for m in money if start <= m.start < start + len(piece)]
            if own and all(any(a <= m.start < b for a, b in others) for m in own):
                continue
            facts = self._item_facts(program, plan, piece, dt.date.today())
            stated = self.binder.bind(read_mentions(piece, self.catalog.lexicon, dt.date.today()), program.facts,
                                      dt.date.today()).values
            if any(n in stated for n in inputs):  # the piece states its own figure (not one carried from elsewhere)
                items.append(Item(f"第{len(items) + 1}项", facts))
        return items if len(items) > 1 else []

    # --- programs ----------------------------------------------------------------------------------------------
    def continue_programs(self, u: Understanding, state: SessionState) -> tuple[list[Program], bool]:
        """A follow-up without a program name: keep the session's programs, or their counterparts in a new region."""
        cat = self.catalog
        current = [cat.program(pid) for pid in state.program_ids if cat.has_program(pid)]
        if not current:
            return [], False
        states_facts = bool(u.reading and u.reading.mentions) or any(
            any(c in u.text for c in cat.facts[n].cues) or
            any(a in u.text for ch in cat.facts[n].choices for a in (ch.label, *ch.aliases) if len(a) >= 2)
            for p in current for n in p.facts)
        pronoun = any(w in u.text for w in PRONOUNS)
        if not (states_facts or pronoun or u.regions or any(u.has(i) for i in FOLLOW_UP_INTENTS) or state.pending):
            return [], False
        if u.has("definition") and not states_facts:
            return [], False
        if u.regions and all(cat.region_of(p) not in u.regions for p in current):
            out = [cp for p in current for r in u.regions if (cp := cat.counterpart(p, r)) is not None]
            return unique(out), True
        return current, True

    def programs_from_retrieval(self, u: Understanding, regions: list[str]) -> tuple[list[Program], list[str]]:
        """No alias matched: let hybrid search find the clause, then take the program that cites it."""
        cat = self.catalog
        wants_program = u.has_money or any(u.has(i) for i in ("amount", "eligibility", "conditions", "materials",
                                                                "compare", "method"))
        if not wants_program:
            return [], []
        result = self.tools.search(u.text, k=3, region=self.region_filter(regions))
        if result is None or not self.relevant(result, u):
            return [], []
        hit = result.hits[0]  # a best clause that no program cites (第十条…) is answered from the clause itself
        owners = [p for p in cat.programs_citing(hit.id) if not p.implements
                  and (not regions or cat.region_of(p) in regions)]
        if len(owners) > 1:
            named = {p.id: self.reader._named_facts(p, u.text) for p in owners}
            top = max(named.values())
            owners = [p for p in owners if named[p.id] == top]
        if len(owners) == 1:
            return owners, [hit.id]
        return [], []

    def relevant(self, result, u: Understanding) -> bool:
        """The retriever's calibrated relevance, with a lower bar when the question is plainly about policies here."""
        if not result.hits:
            return False
        if not u.policy_words and not u.regions and result.relevance < RELEVANCE_UNANCHORED:
            return False  # words that merely occur in the corpus (所得税, 扣除) do not make a tax question ours
        if not result.no_relevant:
            return True
        return u.strong_policy_words and result.relevance >= RELEVANCE_ACCEPT_ANCHORED

    def region_filter(self, regions: list[str]) -> str | None:
        return self.catalog.region(regions[0]).name.split("（")[0] if len(regions) == 1 else None

    def topic_programs(self, text: str, regions: list[str], whole_document: bool = True) -> list[Program]:
        """The region's programs on a topic the question names (“跟算力相关的”, “数据方面的”): those whose name,
        aliases or clause text contain the topic word."""
        cat = self.catalog
        keys = {k for r in regions for k in cat.ancestors(r)}
        docs = self.named_document(text, [d for k in keys for d in cat.docs_of(k)])
        # “哪些钱是给市政府的”: the programs paid to a beneficiary the rules name
        payees = {p.beneficiary for p in cat.programs if p.beneficiary != "企业"}
        payee = next((b for b in sorted(payees, key=len, reverse=True) if b in text), None)
        if payee:
            out = [p for p in cat.programs if cat.region_of(p) in keys and not p.implements and p.beneficiary == payee
                   and (docs is None or p.doc_id == docs)]
            if len(out) > 1:
                return out
        # “AI券有哪些”: the programs paid in a form the question names
        forms = sorted({p.payment_form for p in cat.programs if len(p.payment_form) >= 2}, key=len, reverse=True)
        form = next((f for f in forms if f in text), None)
        if form:
            out = [p for p in cat.programs if cat.region_of(p) in keys and not p.implements and p.payment_form == form
                   and (docs is None or p.doc_id == docs)]
            if len(out) > 1:
                return out
        m = re.search(r"(?:跟|和|与|关于|有关)?([\u4e00-\u9fffA-Za-z]{2,6}?)(?:相关|有关|方面|类)的", text) or \
            re.search(r"(?:用|以|通过)[“\"]?([\u4e00-\u9fffA-Za-z]{2,6}?)[”\"]?(?:形式)?(?:兑现|发放|支付)", text)  # “哪些补助用AI券兑现”
        if not m:
            # “申报指南一共能报哪几类”: the programs of the document the question names
            own = [p for p in cat.programs if whole_document and docs is not None and p.doc_id == docs]
            return own if len(own) > 1 else []
        topic = m.group(1)
        out = [p for p in cat.programs if cat.region_of(p) in keys and not p.implements
               and (docs is None or p.doc_id == docs)
               and (any(topic in n for n in p.names()) or any(topic in cat.clauses[c].text for c in p.clause_ids[:1]))]
        return out if len(out) > 1 else []

    def asked_term(self, u: Understanding, regions: list[str]) -> str | None:
        """The defining clause of a term the question asks about (documents' `terms`), when it names no program and
        states no figure."""
        if u.programs or u.has_figures or not any(w in u.text for w in self.catalog.lexicon.words.term_questions):
            return None
        keys = {k for r in regions for k in self.catalog.ancestors(r)} if regions else None
        docs = [d for d in self.catalog.documents.values()
                if keys is None or self.catalog.region_of_doc.get(d.id) in keys]
        hits = [(t, cid) for d in docs for t, cid in d.terms.items() if t in u.text]
        if not hits:
            return None
        return max(hits, key=lambda h: len(h[0]))[1]

    def named_document(self, text: str, doc_ids: list[str]) -> str | None:
        """The one document among `doc_ids` the question names by a keyword no other of them shares."""
        docs = {d: self.catalog.documents[d] for d in dict.fromkeys(doc_ids)}
        hits = []
        for doc_id, doc in docs.items():
            others = {k for o, od in docs.items() if o != doc_id for k in od.keywords}
            if any(k in text for k in doc.keywords if k not in others and len(k) >= 3):
                hits.append(doc_id)
        return hits[0] if len(hits) == 1 else None

    def defined_period(self, text: str, regions: list[str]) -> str | None:
        """A period a document defines in its own words (the guide's “2023年度”), asked about by that name: the
        clause that defines it. Only labels that are not generic validity words count."""
        docs = {d for r in regions for d in self.catalog.docs_of(r)}
        for doc_id, doc in self.catalog.documents.items():
            period = doc.activity_period
            if period is None or (docs and doc_id not in docs) or not re.search(r"\d", period.label):
                continue
            if period.label in text and doc.roles.get("definitions") == period.clause_id:
                return period.clause_id
        return None

    def named_clause(self, text: str, regions: list[str]) -> str | None:
        """A clause the question names by its own title (“落地优质产业资源这一条”)."""
        docs = {d for r in regions for d in self.catalog.docs_of(r)}
        best = None
        for clause in self.catalog.clauses.values():
            if docs and clause.doc_id not in docs:
                continue
            title = self._titles.get(clause.id)
            if title is None:
                title = self._titles[clause.id] = _CLAUSE_NUMBER.sub("", clause.labels[-1])
            if len(title) >= 5 and title in text and (best is None or len(title) > best[0]):
                best = (len(title), clause.id)
        return best[1] if best else None

    def primary_intent(self, u: Understanding, programs: list[Program]) -> str:
        for intent in self.catalog.lexicon.intents.priority:
            if u.has(intent):
                if intent == "list" and programs:
                    continue
                if intent == "conditions" and u.has("eligibility"):
                    continue
                if intent == "can_apply" and u.has_figures and programs:
                    continue
                return intent
        return "search"

    def prefer_guide_or_measure(self, programs: list[Program], intent: str) -> list[Program]:
        """Measures carry the amounts; the application guide carries materials, deadline and channel."""
        cat = self.catalog
        want_guide = intent in ("materials", "deadline", "channel", "search")
        out: list[Program] = []
        for program in programs:
            if want_guide and not program.implements:
                program = cat.guide_for(program) or program
            elif not want_guide and program.implements and intent not in ("conditions", "validity"):
                program = cat.program(program.implements)
            if program not in out:
                out.append(program)
        return out

    def carries_facts(self, programs: list[Program], state: SessionState) -> bool:
        """The session already holds facts these programs use (“换成那个市的算力券呢”)."""
        return any(set(state.facts) & set(p.facts) for p in programs)

    def residual(self, text: str, programs: list[Program]) -> str:
        """What the question says beyond naming the program, its region and filler words."""
        low = text.lower()
        covered = [False] * len(low)
        names = [a.lower() for p in programs for a in p.names()] + [n for n, _ in self.catalog.lexicon.region_names]
        for name in names:
            for m in re.finditer(re.escape(name), low):
                covered[m.start():m.end()] = [True] * (m.end() - m.start())
        rest = "".join(ch if not covered[i] else " " for i, ch in enumerate(low))
        for w in sorted(self.catalog.lexicon.words.filler, key=len, reverse=True):
            rest = rest.replace(w, "")
        return re.sub(r"[\W_]+", "", rest)

    # --- profile ---------------------------------------------------------------------------------------------------
    def profile_plan(self, u: Understanding, state: SessionState, as_of: dt.date, regions: list[str]) -> Plan:
        """“我们是某区的软件企业…能享受哪些补助？”: every program of the region (and the regions above it)."""
        cat = self.catalog
        keys = list(dict.fromkeys(k for r in regions for k in cat.ancestors(r)))
        programs = [p for p in cat.programs if cat.region_of(p) in keys and not p.implements]
        named = self.named_document(u.text, [d for k in keys for d in cat.docs_of(k)])
        if named is not None:  # “这次申报指南能报哪些”: that document's own programs
            programs = [p for p in cat.programs if p.doc_id == named]
        plan = Plan("profile", intent="profile", programs=programs, regions=regions)
        self.bind(u, state, plan, as_of)
        return plan
