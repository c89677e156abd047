"""The default agent: understands Chinese questions with rules data + retrieval, answers from the calculator and
quoted clauses only. No LLM, deterministic, fast."""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from agent import compose, nlu
from agent.compose import Citations, zh_date
from agent.facts import extract
from agent.session import SessionState, SessionStore
from corpus import clause_index, get_clause, get_document
from tools.errors import PolicyError
from tools.schema import Answer, Calculation, Validity

log = logging.getLogger("policy_assistant.agent")


def join_zh(items, sep: str = "；") -> str:
    """Join Chinese clauses without doubled punctuation ("…。；…")."""
    return sep.join(str(i).rstrip("。；;，, ") for i in items if str(i).strip())

MAX_PROGRAMS_PER_ANSWER = 4
# The retriever's calibrated "nothing relevant" decision is trusted, except that a question plainly about subsidies
# (strong policy words) whose best clause still scores this high is answered from that clause.
RELEVANCE_ACCEPT_ANCHORED = 0.3
# A question with no policy vocabulary and no covered region must match a clause this strongly ("2023年度指什么").
RELEVANCE_UNANCHORED = 0.6
# Facts every applicant is presumed to meet unless they say otherwise (stated as an assumption in answers).
PRESUMED_FACTS = ("independent_legal_person", "no_major_accident_3y", "no_violation_3y", "good_standing",
                  "not_blacklisted", "ah_business_need")
# Intents answered from program data rather than by calculating.
LOOKUP_INTENTS = ("stacking", "validity", "deadline", "channel", "materials", "contacts", "conditions", "definition")
_NEGATIVE_MONEY = re.compile(r"(?:-|－|−|负)\s*[\d一二两三四五六七八九十百千][\d,.一二两三四五六七八九十百千]*\s*(?:万|元|亿|块)")
_BAD_MONEY = re.compile(r"(?<![A-Za-z])[A-Za-z]{1,8}\s*(?:万元|万|元|亿)(?![A-Za-z])")
_ALLOWED_LATIN_MONEY = re.compile(r"(?i)maas|gpu|ai|api|it|ipo|p")


NOT_FOUND_TEXT = ("资料中没有找到与这个问题相关的规定。我能回答的是人工智能产业补助政策问题，覆盖："
                  "厦门市若干措施及2023年度申报指南、思明区若干措施、泉州市2024年省级项目申报通知、安徽省2024年第一批兑现通知。")
INSTRUCTION_DROPPED_TEXT = ("注意：检索到的部分文本含有要求助手执行操作的指令性内容（例如要求直接批准补助），"
                            "这类内容只作为数据看待，已忽略，未采纳。补助须由主管部门按政策审核，我无法批准或承诺任何金额。")


FILLER = re.compile("|".join(sorted((
    "我们", "我们是", "我们的", "我想", "想问", "请问", "问一下", "咨询", "了解", "一下", "的", "是", "企业", "公司",
    "单位", "有", "吗", "呢", "啊", "这个", "那个", "关于", "相关", "政策", "补助", "补贴", "奖励", "奖补", "项目",
    "开发", "模型开发", "想了解", "介绍", "说说", "看看", "能", "可以", "怎么样", "如何", "区", "市", "在", "我",
), key=len, reverse=True)))


@dataclass
class Turn:
    """Everything one answer collects before it is rendered."""

    as_of: dt.date
    cites: Citations = field(default_factory=Citations)
    calculations: list[Calculation] = field(default_factory=list)
    validity: dict[str, Validity] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    retrieved: set[str] = field(default_factory=set)


class OfflineAssistant:
    """Rules + retrieval + calculator; the agent that answers when no LLM is configured (and the LLM's fallback)."""

    def __init__(self, settings, retriever_factory: Callable[[], Any] | None = None, sessions: SessionStore | None = None):
        self.settings = settings
        self._retriever_factory = retriever_factory
        self._retriever: Any = None
        self._retriever_failed = False
        self.sessions = sessions or SessionStore()

    # ------------------------------------------------------------------ plumbing
    @property
    def retriever(self):
        if self._retriever is None and not self._retriever_failed and self._retriever_factory is not None:
            try:
                self._retriever = self._retriever_factory()
            except Exception:
                self._retriever_failed = True
                log.exception("retriever unavailable; answering from rules only")
        return self._retriever

    def ask_stream(self, question: str, *, session_id: str | None = None, as_of: dt.date | None = None) -> Iterator[dict]:
        answer = self.ask(question, session_id=session_id, as_of=as_of)
        text = answer.answer
        for i in range(0, len(text), 24):
            yield {"type": "token", "text": text[i:i + 24]}
        yield {"type": "answer", "answer": answer}

    def ask(self, question: str, *, session_id: str | None = None, as_of: dt.date | None = None) -> Answer:
        as_of = as_of or self.settings.today()
        problem = nlu.check_input(question, self.settings.max_question_chars)
        state = self.sessions.get(session_id)
        if problem:
            text = question if isinstance(question, str) else ""
            return Answer(question=text[:200], answer=problem.message, status=problem.status,  # type: ignore[arg-type]
                          session_id=state.session_id, error=problem.code)
        turn = Turn(as_of=as_of)
        try:
            status, text = self._answer(question, state, turn)
        except PolicyError as exc:
            status, text = "needs_info", exc.message_zh
            return Answer(question=question, answer=text, status=status, session_id=state.session_id, error=exc.code)
        state.turns += 1
        answer = Answer(
            question=question,
            answer=text,
            status=status,  # type: ignore[arg-type]
            citations=turn.cites.items,
            calculations=turn.calculations,
            validity=list(turn.validity.values()),
            session_id=state.session_id,
        )
        self._guard(answer, turn)
        return answer

    def _guard(self, answer: Answer, turn: Turn) -> None:
        from agent.guard import check

        problems = check(answer.answer, answer.citations, answer.calculations, turn.cites.ids | turn.retrieved,
                         turn.evidence)
        if problems:
            log.warning("offline answer failed the guard: %s | %s", problems, answer.question[:80])

    # ------------------------------------------------------------------ routing
    def _answer(self, question: str, state: SessionState, turn: Turn) -> tuple[str, str]:
        p = nlu.parse(question)
        if p.injection:
            return "refused", (
                "抱歉，这个请求我不能执行：我不会透露或修改系统设定，也无法批准、承诺或发放任何补助。"
                "我可以根据政策原文和计算规则，帮您查询可申请的补助、最高额度、条件、材料和截止时间。"
            )
        self._reject_bad_amounts(p.text)
        if p.outside_regions and not p.regions:
            return "not_found", self._outside_corpus(p.outside_regions)

        regions = p.regions or ([state.region] if state.region else [])
        named = self._named_clause(p.text, regions)
        if named is not None and not self._programs_citing(named.id):
            return self._quote_clause(named, p, turn)
        programs = self._match_programs(p.text, regions, explicit_regions=bool(p.regions))
        continuing = False
        if not programs and state.program_id:
            programs, continuing = self._continue_program(p, state)
        if not programs and (p.policy_words or p.regions):
            programs = self._programs_from_retrieval(p, regions, turn)
        elif programs and len(p.regions) > 1 and (p.has("compare") or p.has("amount")):
            for region in p.regions:
                if not any(self._region_of(pr) == region for pr in programs):
                    programs += self._programs_from_retrieval(p, [region], turn)
        if p.regions:
            state.region = p.regions[0] if len(p.regions) == 1 else state.region

        intent = self._primary_intent(p, programs)
        if not programs:
            return self._answer_without_program(p, state, turn, intent, regions)

        programs = self._prefer_guide_or_measure(programs, intent)
        states_facts = any(self._facts_preview(pr, p.text) for pr in programs) or (
            intent == "search" and (self._carries_facts(programs, state) or not self._residual(p.text, programs)))
        if intent == "stacking":
            if self._has_numbers(p.text):
                status, text = self._calculate(p, programs, state, turn, continuing)
                _, stacking = self._stacking(programs, turn)
                return status, text + "\n\n" + stacking
            return self._stacking(programs, turn)
        if intent in ("compare", "method") and not self._has_numbers(p.text):
            return self._standards(programs, state, turn)
        if intent == "compare" or (len({self._region_of(pr) for pr in programs}) > 1
                                   and (intent in ("amount", "eligibility") or states_facts)):
            return self._compare(p, programs, state, turn)
        if intent in ("validity", "deadline", "channel") and not states_facts:
            return self._program_dates(programs, turn, intent)
        if intent == "materials":
            return self._materials(programs, turn)
        if intent == "contacts":
            return self._program_contacts(programs, turn)
        if intent == "interpreter":
            return self._interpreter([pr.doc_id for pr in programs], turn)
        if intent in ("conditions", "definition") and not states_facts:
            return self._conditions(programs, turn)
        if intent == "search" and not states_facts:
            return self._search(p, state, turn, regions, doc_ids=[pr.doc_id for pr in programs])
        return self._calculate(p, programs, state, turn, continuing)

    # ------------------------------------------------------------------ understanding helpers
    def _reject_bad_amounts(self, text: str) -> None:
        from tools.errors import InvalidFactError

        m = _NEGATIVE_MONEY.search(text)
        if m:
            raise InvalidFactError(f"金额不能为负数（您输入的是“{m.group(0)}”）。请提供实际发生的金额（用正数填写，单位万元或元）。",
                                   code="invalid_number")
        for m in _BAD_MONEY.finditer(text):
            if not _ALLOWED_LATIN_MONEY.fullmatch(m.group(0).rstrip("万元亿").strip()):
                raise InvalidFactError(f"无法识别金额“{m.group(0)}”。请用阿拉伯数字或中文数字填写金额，并写明单位万元或元。",
                                       code="invalid_number")

    @staticmethod
    def _region_of(program) -> str:
        return nlu.REGION_OF_DOC[program.doc_id]

    @staticmethod
    def _alias_score(alias: str, text: str) -> int:
        """2×len for an exact alias hit; slightly less when the alias's characters appear in order with short gaps
        (“人工智能职称” in “人工智能高级职称”)."""
        if not alias:
            return 0
        if alias in text:
            return 2 * len(alias)
        if len(alias) < 4:
            return 0
        pos, gaps, prev = 0, 0, None
        for ch in alias:
            found = text.find(ch, pos)
            if found < 0:
                return 0
            if prev is not None:
                gaps += found - prev - 1
            if gaps > 4:
                return 0
            prev, pos = found, found + 1
        return 2 * len(alias) - 3

    def _match_programs(self, text: str, regions: list[str], explicit_regions: bool) -> list:
        from tools.money import find_money
        from tools.rules import load_programs

        lowered = text.lower()
        scored: list[tuple[int, int, Any]] = []
        for order, program in enumerate(load_programs()):
            names = [program.name, program.short_name, *program.aliases]
            best = max((self._alias_score(a.lower(), lowered) for a in names if a), default=0)
            if best:
                scored.append((best, -order, program))
        if regions:
            in_region = [sc for sc in scored if self._region_of(sc[2]) in regions]
            if in_region or explicit_regions:
                scored = in_region
        if not scored:
            return []
        scored.sort(key=lambda sc: (sc[0], sc[1]), reverse=True)
        overall_top = scored[0][0]
        by_region: dict[str, list[tuple[int, Any]]] = {}
        for score, _, program in scored:
            by_region.setdefault(self._region_of(program), []).append((score, program))
        chosen: list = []
        for region, items in by_region.items():
            top = items[0][0]
            if not (len(regions) > 1 and region in regions) and top < overall_top - 2:
                continue  # another region's program matched far better
            chosen.extend(pr for sc, pr in items[:2] if sc >= top - 1 or (sc >= 8 and len(find_money(text)) >= 2))
        return chosen[:MAX_PROGRAMS_PER_ANSWER]

    def _programs_from_retrieval(self, p: nlu.Parsed, regions: list[str], turn: Turn) -> list:
        """No alias matched: let hybrid search find the clause, then take the program that cites it."""
        from tools.money import find_money

        wants_program = bool(find_money(p.text)) or any(
            p.has(i) for i in ("amount", "eligibility", "conditions", "materials", "compare", "method"))
        retriever = self.retriever
        if not wants_program or retriever is None:
            return []
        result = retriever.search(p.text, k=3, region=self._region_filter(regions))
        if not self._relevant(result, p):
            return []
        for hit in result.hits[:2]:
            owners = [pr for pr in self._programs_citing(hit.id) if not pr.implements
                      and (not regions or self._region_of(pr) in regions)]
            if len(owners) == 1:
                turn.retrieved.add(hit.id)
                return owners
        return []

    @staticmethod
    def _relevant(result, p: nlu.Parsed) -> bool:
        """The retriever's calibrated relevance, with a lower bar when the question is plainly about policies here."""
        if not result.hits:
            return False
        if not p.policy_words and not p.regions and result.relevance < RELEVANCE_UNANCHORED:
            return False  # words that merely occur in the corpus (所得税, 扣除) do not make a tax question ours
        if not result.no_relevant:
            return True
        return p.strong_policy_words and result.relevance >= RELEVANCE_ACCEPT_ANCHORED

    @staticmethod
    def _region_filter(regions: list[str]) -> str | None:
        return nlu.REGION_ZH[regions[0]].split("（")[0] if len(regions) == 1 else None

    def _continue_program(self, p: nlu.Parsed, state: SessionState) -> tuple[list, bool]:
        """A follow-up without a program name: keep the session's program, or its counterpart in a new region."""
        from tools.rules import get_program, load_programs

        current = get_program(state.program_id)  # type: ignore[arg-type]
        follow_up_intents = ("amount", "eligibility", "conditions", "materials", "deadline", "channel", "validity",
                             "stacking", "contacts", "compare")
        states_facts = bool(self._facts_preview(current, p.text))
        if not (states_facts or p.regions or any(p.has(i) for i in follow_up_intents)):
            return [], False
        if p.has("definition") and not states_facts:
            return [], False
        if p.regions and self._region_of(current) not in p.regions:
            topic = set(current.aliases)
            for program in load_programs():
                if self._region_of(program) in p.regions and topic & set(program.aliases) and not program.implements:
                    return [program], True
            return [], False
        return [current], True

    @staticmethod
    def _clause_quoting(program, probe: str) -> str | None:
        """The first of the program's clauses whose text contains `probe` (whitespace ignored)."""
        probe = re.sub(r"\s+", "", probe or "")
        if not probe:
            return None
        return next((cid for cid in program.clause_ids if probe in re.sub(r"\s+", "", get_clause(cid).text)), None)

    def _clause_of(self, program, cond) -> str:
        """The clause a condition's phrase is quoted from."""
        return cond.clause_id or self._clause_quoting(program, cond.phrase) or program.clause_ids[0]

    def _formula_clause(self, program) -> str:
        """The clause that states the program's money rule (cited beside amounts and standards)."""
        found = self._clause_quoting(program, re.sub(r"\s+", "", program.formula.phrase or "")[:12])
        return found or (program.clause_ids[-1] if program.formula.kind != "none" else program.clause_ids[0])

    @staticmethod
    def _formula_inputs(program) -> set[str]:
        """Fact names the formula itself reads (as opposed to yes/no conditions)."""
        from pydantic import BaseModel

        names: set[str] = set()

        def walk(obj) -> None:
            if isinstance(obj, BaseModel):
                for key, value in obj:
                    if isinstance(value, str) and (key in ("base", "choice_fact", "received_fact", "growth_fact", "rd_fact")):
                        names.add(value)
                    else:
                        walk(value)
            elif isinstance(obj, (list, tuple)):
                for v in obj:
                    walk(v)
            elif isinstance(obj, dict):
                for v in obj.values():
                    walk(v)

        walk(program.formula)
        return names

    @staticmethod
    def _carries_facts(programs: list, state: SessionState) -> bool:
        """The session already holds facts these programs use (“换成厦门的算力券呢”)."""
        known = {name for facts in state.facts.values() for name in facts}
        return any(known & set(pr.facts) for pr in programs)

    def _residual(self, text: str, programs: list) -> str:
        """What the question says beyond naming the program, its region and filler words."""
        rest = text.lower()
        for program in programs:
            for alias in sorted([program.name, program.short_name, *program.aliases], key=len, reverse=True):
                if alias:
                    rest = rest.replace(alias.lower(), "")
        for name, _ in nlu._REGION_NAMES:
            rest = rest.replace(name, "")
        rest = re.sub(FILLER, "", rest)
        return re.sub(r"[\W_]+", "", rest)

    @staticmethod
    def _facts_preview(program, text: str) -> dict:
        from tools.rules import fact_vocabulary

        vocab = fact_vocabulary()
        return extract(text, [vocab[n] for n in program.facts])

    def _primary_intent(self, p: nlu.Parsed, programs: list) -> str:
        order = ("compare", "stacking", "method", "interpreter", "validity", "deadline", "channel", "materials",
                 "contacts", "definition", "conditions", "eligibility", "amount", "list")
        for intent in order:
            if p.has(intent):
                if intent == "list" and programs:
                    continue
                if intent == "conditions" and p.has("eligibility"):
                    continue
                return intent
        return "search"

    def _prefer_guide_or_measure(self, programs: list, intent: str) -> list:
        """Measures carry the amounts; the 2023 guide carries materials, deadline and channel."""
        from tools.rules import load_programs

        want_guide = intent in ("materials", "deadline", "channel", "search")
        out = []
        for program in programs:
            if want_guide and not program.implements:
                guide = next((g for g in load_programs() if g.implements == program.id), None)
                program = guide or program
            elif not want_guide and program.implements and intent not in ("conditions", "validity"):
                from tools.rules import get_program

                program = get_program(program.implements)
            if program not in out:
                out.append(program)
        return out

    @staticmethod
    def _has_numbers(text: str) -> bool:
        from tools.money import find_money

        return bool(find_money(text))

    # ------------------------------------------------------------------ answers: calculation
    def _facts_for(self, program, text: str, state: SessionState) -> tuple[dict[str, Any], list[str]]:
        """The program's facts from this turn and the session, plus the labels of facts presumed true."""
        from tools.rules import fact_vocabulary

        vocab = fact_vocabulary()
        names = list(program.facts)
        names += [n for n, fd in vocab.items() if fd.derived and fd.derived.current in names and n not in names]
        defs = [vocab[n] for n in names]
        facts = dict(state.facts_for(program.id))
        # shared facts the user gave for another program in this session (e.g. same 营收)
        for other in state.facts.values():
            for name, value in other.items():
                if name in names and name not in facts:
                    facts[name] = value
        facts.update(extract(text, defs))
        state.facts[program.id] = facts
        presumed = {n: True for n in names if n in PRESUMED_FACTS and n not in facts}
        return {**presumed, **facts}, [vocab[n].label for n in presumed]

    def _calculate(self, p: nlu.Parsed, programs: list, state: SessionState, turn: Turn, continuing: bool) -> tuple[str, str]:
        from tools.calculator import calculate, describe_formula
        from tools.money import format_yuan

        sections: list[str] = []
        statuses: list[str] = []
        for program in programs:
            facts, presumed = self._facts_for(program, p.text, state)
            calc = calculate(program.id, facts, turn.as_of)
            turn.calculations.append(calc)
            self._note_validity(program.doc_id, turn, calc.validity)
            turn.evidence.extend(calc.steps)
            marker = "".join(turn.cites.add(c) for c in calc.citations[:2])
            head = f"**{program.name}**{marker}"
            if calc.amount_yuan is not None and calc.eligible is not False:
                statuses.append("answered")
                lines = [head, f"- 最高可获得：**{format_yuan(calc.amount_yuan)}**" + self._period_note(program, calc)]
                lines += self._steps_block(calc)
                if calc.missing:
                    lines.append("- 还需同时满足（您尚未说明）：" + join_zh(calc.missing))
            elif calc.eligible is False:
                statuses.append("answered")
                lines = [head, "- 按您提供的信息，**不符合**申请条件：" + join_zh(calc.unmet)]
                lines += self._steps_block(calc)
            elif program.formula.kind == "none":
                statuses.append("answered")
                lines = [head, "- 金额：" + (program.formula.reason or "文件未规定具体补助金额。")]
                if calc.missing:
                    lines.append("- 申报条件（请逐项核对）：" + join_zh(calc.missing))
            else:
                statuses.append("needs_info")
                vocab_labels = self._input_labels(program)
                inputs = [m for m in calc.missing if m in vocab_labels] or calc.missing
                others = [m for m in calc.missing if m not in inputs]
                lines = [head, "- 要测算最高可获得的金额，还需要您提供：" + join_zh(inputs, "、"),
                         f"- 计算方法：{describe_formula(program)}"]
                if others:
                    lines.append("- 另需满足的条件（请一并确认）：" + join_zh(others))
            if p.has("eligibility") or p.has("conditions"):
                lines += self._checklist(program, facts)
            if presumed:
                lines.append("- 假设贵单位" + join_zh(presumed, "、") + "（如不符合请告诉我）")
            if calc.assumptions:
                lines.append("- 说明：" + join_zh(calc.assumptions))
            if program.application and program.application.deadline:
                lines.append("- " + self._deadline_line(program, turn))
            if calc.validity:
                lines.append("- " + compose.validity_sentence(calc.validity, turn.as_of))
            sections.append("\n".join(lines))
        state.program_id = programs[0].id
        state.pending = "needs_info" in statuses and "answered" not in statuses
        status = "answered" if "answered" in statuses else "needs_info"
        if len(programs) > 1 and not p.regions:
            sections.insert(0, "您没有说明企业所在地区，以下按资料中各地的同类政策分别说明：")
        if status == "answered" and any(c.amount_yuan for c in turn.calculations):
            sections.append(compose.disclaimer())
        return status, "\n\n".join(sections)

    @staticmethod
    def _checklist(program, facts: dict[str, Any]) -> list[str]:
        """Each condition as met / not met / to confirm, for eligibility questions."""
        from tools.calculator import eval_condition, parse_facts

        table = parse_facts(program, facts)
        lines = ["- 条件核对："]
        for cond in program.conditions:
            ok = eval_condition(cond, table)
            mark = {True: "✓ 满足", False: "✗ 不满足", None: "？ 待确认"}[ok]
            lines.append(f"  - {mark}：{cond.description}")
        return lines if len(lines) > 1 else []

    def _input_labels(self, program) -> set[str]:
        from tools.rules import fact_vocabulary

        vocab = fact_vocabulary()
        labels = set()
        for name in self._formula_inputs(program):
            fd = vocab[name]
            labels.add(fd.label)
            if fd.derived:
                labels.update({vocab[fd.derived.current].label, vocab[fd.derived.previous].label})
        return labels

    @staticmethod
    def _steps_block(calc: Calculation) -> list[str]:
        if not calc.steps:
            return []
        return ["- 计算过程："] + [f"  {i}. {s}" for i, s in enumerate(calc.steps, 1)]

    @staticmethod
    def _period_note(program, calc: Calculation) -> str:
        bits = [b for b in (program.period if program.period != "未规定" else "", program.payment_form) if b]
        if calc.amount_kind == "loan":
            bits.insert(0, "贷款额度，不是补助")
        if program.beneficiary != "企业":
            bits.append(f"资金拨付给{program.beneficiary}")
        return f"（{'，'.join(bits)}）" if bits else ""

    def _note_validity(self, doc_id: str, turn: Turn, validity: Validity | None = None) -> Validity:
        if doc_id not in turn.validity:
            from tools.validity import validity_for

            turn.validity[doc_id] = validity or validity_for(doc_id, turn.as_of)
        return turn.validity[doc_id]

    # ------------------------------------------------------------------ answers: lookups
    def _conditions(self, programs: list, turn: Turn) -> tuple[str, str]:
        sections = []
        for program in programs:
            marker = "".join(turn.cites.mark(cid) for cid in program.clause_ids[:2])
            lines = [f"**{program.name}**{marker} 的条件："]
            for cond in program.conditions:
                marker = turn.cites.mark(self._clause_of(program, cond))
                lines.append(f"- {cond.description}（原文：“{cond.phrase}”）{marker}")
                turn.evidence.append(cond.phrase)
            if program.formula.kind == "none":
                lines.append(f"- 金额：{program.formula.reason}")
            elif program.formula.phrase:
                lines.append(f"- 支持标准（原文）：“{program.formula.phrase}”")
                turn.evidence.append(program.formula.phrase)
            for note in program.notes[:2]:
                lines.append(f"- 注：{note}")
                turn.evidence.append(note)
            v = self._note_validity(program.doc_id, turn)
            lines.append("- " + compose.validity_sentence(v, turn.as_of))
            sections.append("\n".join(lines))
        return "answered", "\n\n".join(sections)

    def _materials(self, programs: list, turn: Turn) -> tuple[str, str]:
        sections = []
        for program in programs:
            if not program.materials:
                marker = turn.cites.mark(program.clause_ids[0])
                text = (f"**{program.name}**{marker}：该文件没有列出申报材料。")
                if program.doc_id == "xm-measures":
                    text += f"《若干措施》中其他政策由各责任单位另行发布申报指南{turn.cites.mark('xm-guide:7.3')}，请以届时发布的指南为准。"
                sections.append(text)
                continue
            lines = [f"**{program.name}** 需要提交的材料："]
            for i, m in enumerate(program.materials, 1):
                marker = turn.cites.mark(m.clause_id) if m.clause_id else ""
                attach = f"（{m.attachment}）" if m.attachment and m.attachment not in m.name else ""
                lines.append(f"{i}. {m.name}{attach}{marker}")
                turn.evidence.append(m.name)
            if program.application and program.application.deadline:
                lines.append("- " + self._deadline_line(program, turn))
            sections.append("\n".join(lines))
        return "answered", "\n\n".join(sections)

    def _deadline_line(self, program, turn: Turn) -> str:
        app = program.application
        v = self._note_validity(program.doc_id, turn)
        marker = turn.cites.mark(app.clause_id) if app.clause_id else ""
        when = zh_date(app.deadline) + (app.deadline_time or "")
        state = "申报窗口开放中" if v.window_open else ("申报已截止" if turn.as_of > app.deadline else "申报尚未开始")
        channel = f"；申报方式：{app.channel}" if app.channel else ""
        return f"申报截止时间：{when}{marker}（截至{zh_date(turn.as_of)}，{state}）{channel}"

    def _program_dates(self, programs: list, turn: Turn, intent: str) -> tuple[str, str]:
        sections = []
        seen_docs: set[str] = set()
        from tools.rules import load_programs

        for program in programs:
            lines = [f"**{program.name}**"]
            applying = program if program.application and program.application.deadline else next(
                (g for g in load_programs() if g.implements == program.id and g.application), None)
            if applying is not None and applying.application.deadline:
                lines.append("- " + self._deadline_line(applying, turn))
            if program.doc_id not in seen_docs:
                seen_docs.add(program.doc_id)
                v = self._note_validity(program.doc_id, turn)
                lines.append("- " + compose.validity_sentence(v, turn.as_of) + self._validity_marker(program.doc_id, turn, intent))
            if program.doc_id == "xm-measures" and intent != "validity":
                lines.append(f"- 《若干措施》本身未规定统一申报截止时间，各项政策由责任单位另行发布申报指南{turn.cites.mark('xm-guide:7.3')}。")
            if program.doc_id == "siming" and (intent != "validity" or "券" in program.name):
                lines.append("- 该措施未载明具体申报截止时间；“AI券”使用有效期为发放时所在年度，过期自动失效"
                             + turn.cites.mark("siming:notes.1") + "。")
            sections.append("\n".join(lines))
        return "answered", "\n\n".join(sections)

    # The clause that states a document's period (validity questions) and its application window (deadline/channel).
    PERIOD_CLAUSE = {"xm-measures": "xm-measures:closing", "siming": "siming:notes.4", "xm-guide": "xm-guide:7.1",
                     "quanzhou": "quanzhou:3.3", "anhui": "anhui:2"}
    WINDOW_CLAUSE = {"xm-measures": "xm-measures:closing", "siming": "siming:notes.4", "xm-guide": "xm-guide:6.1",
                     "quanzhou": "quanzhou:3.3", "anhui": "anhui:6"}

    def _validity_marker(self, doc_id: str, turn: Turn, intent: str = "validity") -> str:
        clause = (self.PERIOD_CLAUSE if intent == "validity" else self.WINDOW_CLAUSE).get(doc_id)
        return turn.cites.mark(clause) if clause else ""

    def _program_contacts(self, programs: list, turn: Turn) -> tuple[str, str]:
        """A program whose clause names its own contact (安徽 “（联系人：李卫龙，0551-62653750）”) is answered with it."""
        lines = []
        rest: list[str] = []
        for program in programs:
            own = next(((cid, m.group(0)) for cid in program.clause_ids
                        for m in [re.search(r"[（(]联系人[:：][^）)]+[）)]", get_clause(cid).text)] if m), None)
            if own:
                lines.append(f"- {program.name}{turn.cites.mark(own[0])}：{own[1].strip('（()）')}")
                turn.evidence.append(own[1])
            else:
                rest.append(program.doc_id)
        if rest:
            _, text = self._contacts(rest, turn)
            lines.append(text)
        return "answered", "联系方式：\n" + "\n".join(lines) if lines and not rest else "\n".join(lines)

    def _contacts(self, doc_ids: list[str], turn: Turn) -> tuple[str, str]:
        lines = []
        clause_for = {"xm-guide": "xm-guide:7.4", "quanzhou": "quanzhou:contacts", "anhui": "anhui:contacts",
                      "siming": "siming:notes.4", "xm-measures": "xm-measures:closing"}
        for doc_id in dict.fromkeys(doc_ids):
            doc = get_document(doc_id)
            marker = turn.cites.mark(clause_for[doc_id]) if doc_id in clause_for else ""
            text = compose.contacts_text(doc_id)
            turn.evidence.append(text)
            if doc_id == "xm-measures":
                text = ("《若干措施》未列联系电话，由厦门市工业和信息化局负责解释；2023年度申报咨询："
                        + compose.contacts_text("xm-guide"))
                turn.cites.mark("xm-guide:7.4")
                turn.evidence.append(text)
            elif not doc.contacts or not text:
                text = f"文件未列联系电话，由{doc.interpreter}负责解释"
            lines.append(f"- {compose.doc_label(doc_id)}{marker}：{text}")
        return "answered", "联系方式：\n" + "\n".join(lines)

    def _stacking(self, programs: list, turn: Turn) -> tuple[str, str]:
        return self._stacking_for_docs([pr.doc_id for pr in programs], turn, {pr.id for pr in programs},
                                       none_text="文件对这些项目能否叠加没有作出规定。")

    def _compare(self, p: nlu.Parsed, programs: list, state: SessionState, turn: Turn) -> tuple[str, str]:
        if not self._has_numbers(p.text):
            return self._standards(programs, state, turn)
        status, text = self._calculate(p, programs, state, turn, continuing=False)
        return status, "各项政策分别测算如下：\n\n" + text

    def _standards(self, programs: list, state: SessionState, turn: Turn) -> tuple[str, str]:
        """Side by side: each program's money rule (from the calculator's formula text), conditions, validity."""
        from tools.calculator import describe_formula

        sections = ["各项政策的支持标准对比：" if len(programs) > 1 else "支持标准："]
        for program in programs:
            marker = turn.cites.mark(self._formula_clause(program))
            lines = [f"**{program.name}**{marker}"]
            if program.formula.kind == "none":
                lines.append(f"- 金额：{program.formula.reason}")
            else:
                formula = describe_formula(program)
                lines.append(f"- 标准：{formula}")
                turn.evidence.append(formula)
                if program.formula.phrase:
                    lines.append(f"- 原文：“{program.formula.phrase}”")
                    turn.evidence.append(program.formula.phrase)
            conds = [c for c in program.conditions if c.phrase]
            if conds:
                markers = "".join(dict.fromkeys(turn.cites.mark(self._clause_of(program, c)) for c in conds[:5]))
                lines.append("- 主要条件：" + join_zh(c.description for c in conds[:5]) + markers)
                turn.evidence.extend(c.description for c in conds[:5])
            if program.payment_form:
                lines.append(f"- 兑现方式：{program.payment_form}")
            if program.beneficiary != "企业":
                lines.append(f"- 资金拨付对象：{program.beneficiary}")
            v = self._note_validity(program.doc_id, turn)
            lines.append("- " + compose.validity_sentence(v, turn.as_of))
            sections.append("\n".join(lines))
        state.program_id = programs[0].id
        return "answered", "\n\n".join(sections)

    def _interpreter(self, doc_ids: list[str], turn: Turn) -> tuple[str, str]:
        clause_for = {"xm-measures": "xm-measures:closing", "siming": "siming:notes.4"}
        lines = []
        for doc_id in dict.fromkeys(doc_ids):
            doc = get_document(doc_id)
            marker = turn.cites.mark(clause_for[doc_id]) if doc_id in clause_for else turn.cites.mark(f"{doc_id}:preamble")
            lines.append(f"- {compose.doc_label(doc_id)}由{doc.interpreter}负责解释{marker}。")
            turn.evidence.append(doc.interpreter)
        return "answered", "\n".join(lines)

    # ------------------------------------------------------------------ answers without a program
    def _outside_corpus(self, places: list[str]) -> str:
        return (f"资料库中没有{'、'.join(places)}的政策文件，无法回答这个问题。目前收录的是："
                "厦门市促进人工智能产业发展若干措施及其2023年度申报指南、思明区人工智能产业若干措施、"
                "泉州市2024年省级人工智能产业发展项目申报通知、安徽省2024年第一批通用人工智能政策兑现通知。")

    def _answer_without_program(self, p: nlu.Parsed, state: SessionState, turn: Turn, intent: str,
                                regions: list[str]) -> tuple[str, str]:
        docs = [d for r in regions for d in nlu.REGION_DOCS[r]]
        if intent in ("validity", "deadline", "channel") and docs:
            return self._documents_dates(docs, turn, intent)
        if intent == "stacking" and docs:
            return self._stacking_for_docs(docs, turn)
        if intent == "interpreter" and docs:
            return self._interpreter(docs, turn)
        if intent == "contacts" and docs:
            return self._contacts(docs, turn)
        if intent == "list":
            return self._list_programs(regions, turn)
        status, text = self._search(p, state, turn, regions)
        if status == "not_found" and intent in ("amount", "eligibility") and regions:
            return self._list_programs(regions, turn)
        return status, text

    def _documents_dates(self, docs: list[str], turn: Turn, intent: str) -> tuple[str, str]:
        lines = []
        for doc_id in docs:
            v = self._note_validity(doc_id, turn)
            lines.append("- " + compose.validity_sentence(v, turn.as_of) + self._validity_marker(doc_id, turn, intent))
            app = get_document(doc_id).application
            if app is not None and intent in ("deadline", "channel"):
                lines.append(f"  申报方式：{app.channel}。")
                turn.evidence.append(app.channel)
        return "answered", "\n".join(lines)

    def _stacking_for_docs(self, docs: list[str], turn: Turn, program_ids: set[str] | None = None,
                           none_text: str = "文件对能否叠加享受没有作出规定。") -> tuple[str, str]:
        """The documents' stacking rules; with `program_ids`, a mutual exclusion naming none of them is skipped."""
        from tools.rules import stacking_rules

        lines = ["关于能否同时享受（叠加）："]
        for doc_id in dict.fromkeys(docs):
            for rule in stacking_rules(doc_id):
                if program_ids and rule.kind == "mutually_exclusive" and rule.programs and not program_ids & set(rule.programs):
                    continue
                lines.append(f"- {rule.text}{turn.cites.mark(rule.clause_id)}")
                turn.evidence.append(rule.text)
        if len(lines) == 1:
            return "answered", none_text
        return "answered", "\n".join(lines)

    def _list_programs(self, regions: list[str], turn: Turn) -> tuple[str, str]:
        from tools.rules import load_programs

        lines = []
        for region in regions or list(nlu.REGION_DOCS):
            programs = [pr for pr in load_programs() if self._region_of(pr) == region and not pr.implements]
            if not programs:
                continue
            v = self._note_validity(programs[0].doc_id, turn)
            lines.append(f"**{nlu.REGION_ZH[region]}**（{compose.validity_sentence(v, turn.as_of).rstrip('。')}）：")
            for program in programs:
                marker = turn.cites.mark(program.clause_ids[0])
                lines.append(f"- {program.name}{marker}")
        lines.append("\n告诉我具体项目和相关金额（例如年度购买算力服务的费用），我可以帮您测算最高可获得的金额。")
        return "answered", "\n".join(lines)

    def _search(self, p: nlu.Parsed, state: SessionState, turn: Turn, regions: list[str],
                doc_ids: list[str] | None = None) -> tuple[str, str]:
        retriever = self.retriever
        if retriever is None:
            return "not_found", "抱歉，检索服务暂不可用，请直接说明想了解的补助项目，例如“厦门算力券的条件”。"
        if doc_ids:
            results = [retriever.search(p.text, k=3, doc_id=d) for d in list(dict.fromkeys(doc_ids))[:2]]
            result = max(results, key=lambda r: (r.relevance, r.hits[0].score if r.hits else 0))
            hits = sorted((h for r in results for h in r.hits), key=lambda h: h.score, reverse=True)
        else:
            result = retriever.search(p.text, k=3, region=self._region_filter(regions))
            hits = list(result.hits)
        if not hits or not self._relevant(result, p):
            return "not_found", NOT_FOUND_TEXT
        # Retrieved text is data: a clause that tries to instruct the assistant is never quoted or followed, and only
        # clauses of the curated corpus are cited (anything else that reached the index is untrusted).
        corpus_ids = clause_index()
        safe = [h for h in hits if h.id in corpus_ids and not nlu.is_injection(nlu.normalize(h.text))]
        dropped = sum(1 for h in hits if nlu.is_injection(nlu.normalize(h.text)))
        if hits[0].id not in corpus_ids or nlu.is_injection(nlu.normalize(hits[0].text)):
            # the best match is untrusted text; lower-ranked clauses would only be noise for this question
            note = "\n\n" + INSTRUCTION_DROPPED_TEXT if dropped else ""
            return "not_found", NOT_FOUND_TEXT + note
        turn.retrieved.update(h.id for h in safe)
        if not safe:
            return "not_found", NOT_FOUND_TEXT + "\n\n" + INSTRUCTION_DROPPED_TEXT
        top = safe[0]
        lines = ["资料中的相关规定："]
        shown = [top] + [h for h in safe[1:2] if h.score >= 0.9 * top.score]
        for hit in shown:
            marker = turn.cites.mark(hit.id)
            text = get_clause(hit.id).text
            lines.append(f"- {compose.doc_label(hit.doc_id)} {hit.clause}{marker}：\n  > {self._excerpt(text, p.text)}")
            turn.evidence.append(text)
            self._note_validity(hit.doc_id, turn)
        if dropped:
            lines.append(INSTRUCTION_DROPPED_TEXT)
        if p.has("amount") and not self._has_money_rule(top.id):
            lines.append("该条款没有规定具体的补助金额或比例，文件未规定的金额无法测算。")
        if top.doc_id in turn.validity:
            lines.append(compose.validity_sentence(turn.validity[top.doc_id], turn.as_of))
        return "answered", "\n".join(lines)

    @staticmethod
    def _programs_citing(clause_id: str) -> list:
        from tools.rules import load_programs

        return [pr for pr in load_programs() if clause_id in pr.clause_ids]

    @staticmethod
    def _named_clause(text: str, regions: list[str]):
        """A clause the question names by its own title (“落地优质产业资源这一条”, “第十条”)."""
        from corpus import load_clauses

        docs = {d for r in regions for d in nlu.REGION_DOCS[r]}
        best = None
        for clause in load_clauses():
            if docs and clause.doc_id not in docs:
                continue
            title = re.sub(r"^(第[一二三四五六七八九十]+条|[（(][一二三四五六七八九十0-9]+[)）]|[一二三四五六七八九十0-9]+、)\s*", "",
                           clause.labels[-1])
            if len(title) >= 5 and title in text and (best is None or len(title) > best[0]):
                best = (len(title), clause)
        return best[1] if best else None

    def _quote_clause(self, clause, p: nlu.Parsed, turn: Turn) -> tuple[str, str]:
        marker = turn.cites.mark(clause.id)
        lines = [f"{compose.doc_label(clause.doc_id)} {clause.label_path}{marker}：", f"> {self._excerpt(clause.text, p.text)}"]
        turn.evidence.append(clause.text)
        if not self._has_money_rule(clause.id):
            lines.append("该条款没有规定具体的补助金额或比例，文件未规定的金额无法测算。")
        v = self._note_validity(clause.doc_id, turn)
        lines.append(compose.validity_sentence(v, turn.as_of))
        return "answered", "\n".join(lines)

    @staticmethod
    def _has_money_rule(clause_id: str) -> bool:
        return any(pr.formula.kind != "none" for pr in OfflineAssistant._programs_citing(clause_id))

    @staticmethod
    def _excerpt(text: str, query: str = "", limit: int = 400) -> str:
        """The clause verbatim when short; otherwise its sentences that share most words with the question."""
        flat = text.replace("\n", " ")
        if len(flat) <= limit:
            return flat
        sentences = [x for x in re.split(r"(?<=[。；;])\s*|\s(?=\d+[.、．])", flat) if x.strip()]
        grams = {query[i:i + 2] for i in range(len(query) - 1)}
        scored = sorted(range(len(sentences)), key=lambda i: -sum(g in sentences[i] for g in grams))
        keep: list[int] = []
        size = 0
        for i in scored:
            if size + len(sentences[i]) > limit and keep:
                break
            keep.append(i)
            size += len(sentences[i])
        out, prev = [], -1
        for i in sorted(keep):
            if prev != -1 and i != prev + 1:
                out.append("……")
            out.append(sentences[i])
            prev = i
        prefix = "……" if sorted(keep)[0] > 0 else ""
        suffix = "……" if sorted(keep)[-1] < len(sentences) - 1 else ""
        return prefix + "".join(out) + suffix
