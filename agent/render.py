"""Rendering a plan: execute its calculations through the tools and write the answer, what matters first.

Order inside an answer: the status of the document (已失效 / 申报已截止 / 即将到期) before any amount, then the
amount or the total (with the stacking rules that govern a total before it), the worked steps, the conditions still to
confirm, and the citations as [n] markers. Every figure written here comes from the calculator or from quoted text.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from agent.compose import Citations, claimable, contacts_text, disclaimer, join_zh, status_tag, validity_sentence, zh_date
from agent.execute import PolicyTools, TurnCalculator
from agent.plan import Item, Plan, Planner
from agent.session import SessionState
from agent.understand import Understanding
from tools.catalog import PolicyCatalog
from tools.money import format_yuan
from tools.rules import Program
from tools.calculator import total as sum_total
from tools.schema import Calculation, Total, Validity
from tools.vocab import compare

REFUSAL_TEXT = ("抱歉，这个请求我不能执行：我不会透露或修改系统设定，也无法批准、承诺或发放任何补助。"
                "我可以根据政策原文和计算规则，帮您查询可申请的补助、最高额度、条件、材料和截止时间。")
INSTRUCTION_DROPPED_TEXT = ("注意：检索到的部分文本含有要求助手执行操作的指令性内容（例如要求直接批准补助），"
                            "这类内容只作为数据看待，已忽略，未采纳。补助须由主管部门按政策审核，我无法批准或承诺任何金额。")
SMALLTALK_TEXT = ("您好，我是政策通，可以帮您查询人工智能产业补助：能申请哪些、最高多少、依据哪一条、什么时候截止、要交什么材料。"
                  "请告诉我企业所在地区、想了解的补助和相关金额。")
RULE_EDIT_TEXT = "说明：补助比例、上限等数字以政策原文为准，不能按对话中的要求修改；以下按文件规定计算。"


@dataclass
class Turn:
    """Everything one answer collects before it is rendered."""

    as_of: dt.date
    cites: Citations
    calculations: list[Calculation] = field(default_factory=list)
    totals: list[Total] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)  # program id → notes on how its facts were read
    validity: dict[str, Validity] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    retrieved: set[str] = field(default_factory=set)
    question: str = ""
    facts_read: list = field(default_factory=list)  # tools.schema.FactRead: the facts the calculations used


def _date_span(m) -> tuple[dt.date, dt.date]:
    """The days a date mention covers: its year, its month or its day."""
    d = m.value
    if m.unit_word == "year":
        return dt.date(d.year, 1, 1), dt.date(d.year, 12, 31)
    if m.unit_word == "month":
        nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
        return d.replace(day=1), nxt - dt.timedelta(days=1)
    return d, d


class Renderer:
    def __init__(self, catalog: PolicyCatalog, tools: PolicyTools, planner: Planner):
        self.catalog = catalog
        self.tools = tools
        self.planner = planner

    # --- entry ----------------------------------------------------------------------------------------------------
    def render(self, plan: Plan, u: Understanding, state: SessionState, turn: Turn) -> tuple[str, str]:
        turn.question = u.text
        handler = getattr(self, f"_{plan.kind}")
        status, text = handler(plan, u, state, turn)
        if u.rule_edit and plan.kind == "calculate":
            text = RULE_EDIT_TEXT + "\n\n" + text
        return status, text

    # --- simple kinds -------------------------------------------------------------------------------------------------
    def _refuse(self, plan, u, state, turn):
        return "refused", REFUSAL_TEXT

    def _smalltalk(self, plan, u, state, turn):
        if state.program_ids and self.catalog.has_program(state.program_ids[0]):
            name = self.catalog.program(state.program_ids[0]).name
            return "answered", f"好的。我们刚才在看“{name}”，您可以继续补充情况，或问其他补助。"
        return "answered", SMALLTALK_TEXT

    def covered_text(self) -> str:
        return "目前收录的是：" + "、".join(f"《{d.title}》" for d in self.catalog.documents.values()) + "。"

    def _outside(self, plan, u, state, turn):
        return "not_found", f"资料库中没有{plan.note}的政策文件，无法回答这个问题。{self.covered_text()}"

    def _own_policy(self, plan, u, state, turn):
        region = plan.regions[0] if plan.regions else None
        lines = [f"资料库中没有{plan.note}自己出台的政策文件，无法回答{plan.note}区级政策的问题（包括补助比例和金额）。"]
        if region:
            name = self.catalog.region(region).name
            docs = self.catalog.docs_of(region)
            titles = "、".join(f"《{self.catalog.document(d).title}》" for d in docs)
            lines.append(f"{plan.note}属于{name}，{name}的市级文件（{titles}）适用于全市企业，可以帮您按市级政策测算。")
            for d in docs[:1]:
                lines.append(validity_sentence(self.catalog, self._validity(d, turn), turn.as_of))
        return "not_found", "\n".join(lines)

    def _out_of_scope(self, plan, u, state, turn):
        text = ("所收录的政策文件只规定补助的条件、标准、材料和申报时间，没有规定补助资金的税务处理或会计处理，"
                "这个问题文件未作规定，无法据此回答。建议咨询主管税务机关或会计师。")
        return "not_found", text + self.covered_text()

    def _not_found(self, plan, u, state, turn):
        return "not_found", "资料中没有找到与这个问题相关的规定。" + self.covered_text()

    # --- helpers ------------------------------------------------------------------------------------------------------
    def _validity(self, doc_id: str, turn: Turn, v: Validity | None = None) -> Validity:
        if doc_id not in turn.validity:
            from tools.validity import validity_for

            turn.validity[doc_id] = v or validity_for(doc_id, turn.as_of, self.catalog)
        return turn.validity[doc_id]

    def clause_quoting(self, program: Program, probe: str) -> str | None:
        probe = re.sub(r"\s+", "", probe or "")
        if not probe:
            return None
        return next((cid for cid in program.clause_ids if probe in re.sub(r"\s+", "", self.catalog.clause(cid).text)), None)

    def clause_of(self, program: Program, cond) -> str:
        return cond.clause_id or self.clause_quoting(program, cond.phrase) or program.clause_ids[0]

    def formula_clause(self, program: Program) -> str:
        found = self.clause_quoting(program, re.sub(r"\s+", "", program.formula.phrase or "")[:12])
        return found or (program.clause_ids[-1] if program.formula.kind != "none" else program.clause_ids[0])

    def input_labels(self, program: Program) -> set[str]:
        vocab = self.catalog.facts
        labels = set()
        for name in program.formula.inputs():
            fd = vocab[name]
            labels.add(fd.label)
            if fd.derived:
                labels.update({vocab[fd.derived.current].label, vocab[fd.derived.previous].label})
        return labels

    def condition_lines(self, program: Program, missing: list[str]) -> list[str]:
        """Missing facts with the threshold the clause sets (“新增单体智能算力规模（P）：400P（含）以上”)."""
        vocab = self.catalog.facts
        out = []
        for label in missing:
            name = next((n for n, fd in vocab.items() if fd.label == label), None)
            conds = [c.description for c in program.conditions if c.fact == name]
            out.append(f"{label}（{join_zh(conds, '，')}）" if conds and conds[0] != label else label)
        return out

    @staticmethod
    def steps_block(calc: Calculation) -> list[str]:
        return ["- 计算过程："] + [f"  {i}. {s}" for i, s in enumerate(calc.steps, 1)] if calc.steps else []

    @staticmethod
    def period_note(program: Program, calc: Calculation) -> str:
        bits = [b for b in (program.period if program.period != "未规定" else "", program.payment_form) if b]
        if calc.amount_kind == "loan":
            bits.insert(0, "贷款额度，不是补助")
        if program.beneficiary != "企业":
            bits.append(f"资金拨付给{program.beneficiary}")
        return f"（{'，'.join(bits)}）" if bits else ""

    def deadline_line(self, program: Program, turn: Turn) -> str:
        app = program.application
        v = self._validity(program.doc_id, turn)
        marker = turn.cites.mark(app.clause_id) if app.clause_id else ""
        when = zh_date(app.deadline) + (app.deadline_time or "")
        state = "申报窗口开放中" if v.window_open else ("申报已截止" if turn.as_of > app.deadline else "申报尚未开始")
        channel = f"；申报方式：{app.channel}" if app.channel else ""
        return f"申报截止时间：{when}{marker}（截至{zh_date(turn.as_of)}，{state}）{channel}"

    # --- calculation --------------------------------------------------------------------------------------------------
    def calc_facts(self, program: Program, plan: Plan, turn: Turn) -> dict[str, Any]:
        """The plan's facts for one program, with its amount limited to the activity inside the period the
        program covers (figures dated outside it are left out and said so) and the activity's dates."""
        facts = dict(plan.facts)
        bound = plan.bound
        if plan.when is not None:  # a follow-up moved the carried amounts to new dates
            facts["activity_from"], facts["activity_to"] = plan.when
            return facts
        if bound is None:
            return facts
        for name, (first, last) in bound.date_ranges.items():
            # “2023年取得” against “2023年10月10日以后”: the year alone does not decide it, so the date is asked for
            if facts.get(name) == bound.values.get(name) and any(
                    c.fact == name and c.op in ("ge", "gt", "le", "lt") and isinstance(c.value, dt.date)
                    and compare(c.op, first, c.value) != compare(c.op, last, c.value) for c in program.conditions):
                facts.pop(name, None)
        period = self.catalog.activity_period(program)
        vocab = self.catalog.facts
        if period is not None and not any(bound.parts.get(n) for n in program.formula.inputs()) and plan.reading:
            # no dated amount: the date the question gives its activity (“2023年11月签的投资协议”) is checked against
            # the period the program covers
            taken = {m.span for m in bound.mentions.values() if m.span}
            verbs = self.catalog.lexicon.words.activity_verbs
            dates = [m for m in plan.reading.of_kind("date") if (m.start, m.end) not in taken
                     and any(v in plan.reading.text[m.end:m.end + 12] for v in verbs)]
            if len(dates) == 1 and "activity_from" not in facts:
                first, last = _date_span(dates[0])
                facts["activity_from"], facts["activity_to"] = first, last
            elif not dates and "activity_from" not in facts:
                # a year word before the activity (“明年再做个生成式备案”): that year is checked against the period
                text = plan.reading.text
                words = [*verbs, *self.catalog.lexicon.words.plan_words]
                years = [y for s0, e0, y, part in plan.reading.year_labels if not part and y
                         and any(w in text[e0:e0 + 8] for w in words)]
                if len(set(years)) == 1:
                    facts["activity_from"], facts["activity_to"] = dt.date(years[0], 1, 1), dt.date(years[0], 12, 31)
        amounts = list(dict.fromkeys([*program.formula.inputs(),  # the formula's base, or an amount a condition reads
                                      *(c.fact for c in program.conditions if vocab[c.fact].unit == "yuan")]))
        for name in amounts:
            parts = bound.parts.get(name)
            if not parts or vocab[name].series or not any(w for _, w, _ in parts):
                continue
            if period is None:
                dated = [w for _, w, _ in parts if w]
                facts["activity_from"], facts["activity_to"] = min(w[0] for w in dated), max(w[1] for w in dated)
                break

            def inside(w) -> bool:
                return w is None or (w[1] >= period.from_ and w[0] <= period.to)

            covered = [p for p in parts if inside(p[1])]
            left_out = [p for p in parts if not inside(p[1])]
            subs = [sp for sp in bound.sub_parts.get(name, []) if period.from_ <= sp[1][0] and sp[1][1] <= period.to]
            if subs and len(covered) == 1 and covered[0][1] and covered[0][1][0] < period.from_:
                value, when, source = subs[0]
                facts[name] = value
                note = f"按{period.label}（{zh_date(period.from_)}至{zh_date(period.to)}）计算，采用您说明的该期间金额（“{source}”）。"
                turn.notes.setdefault(program.id, []).append(note)
                covered = [(value, when, source)]
            elif covered and left_out:
                facts[name] = sum(v for v, _, _ in covered)
                raws = "、".join(r for _, _, r in left_out)
                note = (f"{raws}发生在{period.label}（{zh_date(period.from_)}至{zh_date(period.to)}）之外，不计入；"
                        f"按期间内的{format_yuan(facts[name])}计算。")
                turn.notes.setdefault(program.id, []).append(note)
                turn.evidence.append(note)
            spans = [w for _, w, _ in (covered or left_out) if w]
            if spans:
                facts["activity_from"], facts["activity_to"] = min(w[0] for w in spans), max(w[1] for w in spans)
            break
        for name, m in plan.mentions.items():  # a value the person corrected is used as corrected
            if m.origin == "corrected" and m.value is not None:
                facts[name] = m.value
        return facts

    def _calculate(self, plan: Plan, u: Understanding, state: SessionState, turn: Turn) -> tuple[str, str]:
        calc_of = TurnCalculator(self.tools, turn.as_of)
        sections: list[str] = []
        statuses: list[str] = []
        results: list[tuple[Program, Calculation]] = []
        for program in plan.programs:
            items = plan.items.get(program.id)
            if items:
                section, status, summary = self._items_section(program, items, plan, turn, calc_of)
                sections.append(section)
                statuses.append(status)
                if summary is not None:  # the program's item total stands for it in a total over programs
                    results.append((program, summary))
                continue
            facts = self.calc_facts(program, plan, turn)
            calc = calc_of(program.id, facts)
            turn.calculations.append(calc)
            results.append((program, calc))
            status, lines = self._program_section(program, calc, plan, u, turn, facts)
            statuses.append(status)
            sections.append("\n".join(lines))
        state.program_ids = [p.id for p in plan.programs]
        state.pending = "needs_info" in statuses and "answered" not in statuses
        status = "answered" if "answered" in statuses else "needs_info"
        if plan.intent == "can_apply":
            lead = list(dict.fromkeys(self.can_apply_line(p.doc_id, turn) for p in plan.programs))
            if any(c.eligible is False for c in turn.calculations):
                lead.insert(0, "**按您说明的情况不符合条件**（见下）。")
            sections.insert(0, "\n".join(lead))
        if len(plan.programs) > 1 and not u.regions and len({self.catalog.region_of(p) for p in plan.programs}) > 1:
            sections.insert(0, "您没有说明企业所在地区，以下按资料中各地的同类政策分别说明：")
        total = self._total_section(plan, results, turn)
        if total:
            sections.append(total)
        if plan.intent == "stacking" or (len([c for _, c in results if c.amount_yuan]) > 1 and not total):
            stacking = self._stacking_lines([p.doc_id for p in plan.programs], turn, {p.id for p in plan.programs})
            if stacking:
                sections.append(stacking)
        if status == "answered" and any(c.amount_yuan for c in turn.calculations):
            sections.append(disclaimer())
        return status, "\n\n".join(sections)

    def _program_section(self, program: Program, calc: Calculation, plan: Plan, u: Understanding,
                         turn: Turn, facts: dict[str, Any] | None = None) -> tuple[str, list[str]]:
        self._validity(program.doc_id, turn, calc.validity)
        turn.evidence.extend(calc.steps)
        marker = "".join(turn.cites.add(c) for c in calc.citations[:2])
        v = calc.validity
        head = f"**{program.name}**{marker}"
        lines = [head]
        live = v is None or claimable(v)
        led = v is not None and (not live or v.expiring_soon)  # the status leads the amount (已失效 / 即将到期)
        if led:
            if not live:  # the clause that decides it cannot be applied for
                marker = self._status_marker(v, turn)
            else:  # 即将到期: the period clause when the question is about validity
                marker = turn.cites.mark(self.catalog.role_clause(program.doc_id, "period")) \
                    if u.has("validity") or u.has("can_apply") else ""
            lines.append(f"- 政策状态：**{status_tag(v, turn.as_of, self.catalog)}**。"
                         f"{validity_sentence(self.catalog, v, turn.as_of)}" + marker)
        for note in turn.notes.get(program.id, []):
            lines.append(f"- 说明：{note}")
        period = self.catalog.activity_period(program)
        if period is not None and any(period.phrase in un for un in calc.unmet + calc.assumptions):
            turn.cites.mark(period.clause_id)
        if calc.amount_yuan is not None and calc.eligible is not False:
            status = "answered"
            word = "可申请贷款额度最高" if calc.amount_kind == "loan" else "最高可获得"
            if live:
                lines.append(f"- {word}：**{format_yuan(calc.amount_yuan)}**" + self.period_note(program, calc))
            else:
                why = ("文件已被修订或废止" if v.replaced_by else "申报已截止" if v.status in ("unstated", "in_force")
                       else "政策已失效" if v.status == "expired" else "政策尚未生效")
                lines.append(f"- 按原规定{word}：{format_yuan(calc.amount_yuan)}" + self.period_note(program, calc)
                             + f"（{why}，仅供核对）")
            lines += self.steps_block(calc)
            if calc.missing:
                lines.append("- 还需同时满足（您尚未说明）：" + join_zh(self.condition_lines(program, calc.missing)))
        elif calc.eligible is False:
            status = "answered"
            lines.append("- 按您提供的信息，**不符合**申请条件：" + join_zh(calc.unmet))
            self._cite_period_if_outside(program, calc, turn)
            for cond in program.conditions:
                if any(cond.phrase in un for un in calc.unmet):
                    turn.cites.mark(self.clause_of(program, cond))
            lines += self.steps_block(calc)
        elif program.formula.kind == "none":
            status = "answered"
            lines.append("- 金额：" + (program.formula.reason or "文件未规定具体补助金额。"))
            if calc.missing:
                lines.append("- 申报条件（请逐项核对）：" + join_zh(self.condition_lines(program, calc.missing)))
        else:
            decided = calc.eligible is True and (u.has("eligibility") or u.has("can_apply"))
            status = "answered" if decided else "needs_info"
            if decided:
                lines.append("- 按您提供的信息，**符合**所列申请条件；金额需按下面的方法测算。")
            labels = self.input_labels(program)
            inputs = [m for m in calc.missing if m in labels] or calc.missing
            others = [m for m in calc.missing if m not in inputs]
            lines += ["- 要测算最高可获得的金额，还需要您提供：" + join_zh(inputs, "、"),
                      f"- 计算方法：{calc.formula}"]
            if others:
                lines.append("- 另需满足的条件（请一并确认）：" + join_zh(self.condition_lines(program, others)))
        if u.has("eligibility") or u.has("conditions"):
            lines += self.checklist(program, facts if facts is not None else plan.facts)  # as calculated
        if plan.presumed and calc.eligible is not False:
            own = [label for label in plan.presumed
                   if any(self.catalog.facts[n].label == label for n in program.facts)]
            if own:
                lines.append("- 假设贵单位" + join_zh(own, "、") + "（如不符合请告诉我）")
        if calc.assumptions and calc.eligible is not False:
            lines.append("- 说明：" + join_zh(calc.assumptions))
        if program.application and program.application.deadline:
            lines.append("- " + self.deadline_line(program, turn))
        if v is not None and live and not led:
            marker = ""
            if u.has("validity") or u.has("can_apply"):
                marker = turn.cites.mark(self.catalog.role_clause(program.doc_id, "period"))
            lines.append("- " + validity_sentence(self.catalog, v, turn.as_of) + marker)
        return status, lines

    def _items_section(self, program: Program, items: list[Item], plan: Plan, turn: Turn,
                       calc_of: TurnCalculator) -> tuple[str, str, Calculation | None]:
        """Several items of one program, each capped on its own, and their total."""
        calcs = []
        parts: list[tuple[Calculation, int]] = []
        marker = turn.cites.mark(self.formula_clause(program))
        lines = [f"**{program.name}**{marker}（每项分别计算）"]
        for item in items:
            calc = calc_of(program.id, item.facts)
            turn.calculations.append(calc)
            self._validity(program.doc_id, turn, calc.validity)
            turn.evidence.extend(calc.steps)
            calcs.append(calc)
            parts.append((calc, item.count))
            if calc.amount_yuan is not None and calc.eligible is not False:
                each = sum_total([(calc, item.count)], item.label)
                times = f" × {item.count} = {format_yuan(each.amount_yuan)}" if item.count > 1 else ""
                if item.count > 1:
                    turn.totals.append(each)
                # the item's own arithmetic (“74万元 × 50% = 37万元，未超过上限50万元”), the formula said once above
                work = [st for st in calc.steps[1:] if "=" in st and not st.startswith(("结论", "若其余"))]
                how = f"（{work[0].rstrip('。')}）" if len(work) == 1 else ""
                lines.append(f"- {item.label}：最高{format_yuan(calc.amount_yuan)}{times}{how}")
            elif calc.eligible is False:
                self._cite_period_if_outside(program, calc, turn)
                lines.append(f"- {item.label}：不符合条件（{join_zh(calc.unmet)}）")
            else:
                lines.append(f"- {item.label}：还需要提供{join_zh(calc.missing, '、')}")
        formula = next((c.steps[0] for c in calcs if c.amount_yuan and c.steps
                        and c.steps[0].startswith(("计算公式", "奖励标准"))), None)
        if formula:
            lines.insert(1, f"- 计算方法：{formula.split('：', 1)[-1]}")
        v = calcs[0].validity if calcs else None
        if v is not None and not claimable(v):
            lines.insert(1, f"- 政策状态：**{status_tag(v, turn.as_of, self.catalog)}**。{validity_sentence(self.catalog, v, turn.as_of)}"
                            f"{self._status_marker(v, turn)}")
        total = sum_total(parts, f"{program.name}合计", in_force=None if v is None else claimable(v))
        if (len(items) > 1 or any(i.count > 1 for i in items)) and total.amount_yuan:
            turn.totals.append(total)
            lines.append(f"- 合计最高：**{format_yuan(total.amount_yuan)}**")
        status = "answered" if any(c.amount_yuan is not None or c.eligible is False for c in calcs) else "needs_info"
        payable = next((c for c in calcs if c.amount_yuan and c.eligible is not False), None)
        summary = payable.model_copy(update={"amount_yuan": total.amount_yuan}) if payable is not None else None
        return "\n".join(lines), status, summary

    def _total_section(self, plan: Plan, results: list[tuple[Program, Calculation]], turn: Turn) -> str:
        """A total over several programs: stacking rules first, then 现行有效 / 已失效 split."""
        payable = [(p, c) for p, c in results if c.amount_yuan and c.eligible is not False and c.amount_kind == "award"]
        if len({p.id for p, _ in payable}) < 2:
            return ""
        live_t = sum_total([(c, 1) for p, c in payable if c.validity is None or claimable(c.validity)], "现行有效合计",
                           in_force=True)
        dead_t = sum_total([(c, 1) for p, c in payable if c.validity is not None and not claimable(c.validity)],
                           "已失效或申报已截止的文件合计", in_force=False)
        turn.totals.extend(t for t in (live_t, dead_t) if t.amount_yuan)
        live, dead = live_t.amount_yuan, dead_t.amount_yuan
        lines = []
        stacking = self._stacking_lines([p.doc_id for p, _ in payable], turn, {p.id for p, _ in payable})
        if stacking:
            lines.append(stacking)
        parts = []
        if live:
            personal = [(c, 1) for p, c in payable if p.beneficiary != "企业" and (c.validity is None or claimable(c.validity))]
            to_others = ""
            if personal and len(personal) < len([1 for p, c in payable if c.validity is None or claimable(c.validity)]):
                others = sum_total(personal, "其中拨付给企业以外对象的部分", in_force=True)
                turn.totals.append(others)
                who = "、".join(dict.fromkeys(p.beneficiary for p, c in payable if p.beneficiary != "企业"))
                to_others = f"（其中{format_yuan(others.amount_yuan)}拨付给{who}，不是企业所得）"
            parts.append(f"现行有效的项目合计最高{format_yuan(live)}{to_others}")
        if dead:
            parts.append(f"已失效（或申报已截止）的文件按原规定合计{format_yuan(dead)}，现已不能申报")
        lines.append("**合计**：" + "；".join(parts) + "。")
        return "\n".join(lines)

    def checklist(self, program: Program, facts: dict[str, Any]) -> list[str]:
        from tools.vocab import eval_condition, parse_facts

        table = parse_facts(self.catalog.facts, list(program.facts), facts)
        lines = ["- 条件核对："]
        for cond in program.conditions:
            ok = eval_condition(cond, table)
            mark = {True: "✓ 满足", False: "✗ 不满足", None: "？ 待确认"}[ok]
            lines.append(f"  - {mark}：{cond.description}")
        return lines if len(lines) > 1 else []

    # --- profile --------------------------------------------------------------------------------------------------------
    def _profile(self, plan: Plan, u: Understanding, state: SessionState, turn: Turn) -> tuple[str, str]:
        calc_of = TurnCalculator(self.tools, turn.as_of)
        stated = set(plan.bound.values) if plan.bound else set()
        eligible, needs, unmet, silent = [], [], [], []
        for program in plan.programs:
            touched = bool(stated & set(program.facts))
            if not touched:
                silent.append(program)
                continue
            items = plan.items.get(program.id)
            if items:  # several people / products: their sum stands for the program
                parts = [(calc_of(program.id, i.facts), i.count) for i in items]
                turn.calculations.extend(c for c, _ in parts)
                item_total = sum_total(parts, f"{program.name}合计")
                if len(items) > 1 or any(i.count > 1 for i in items):
                    turn.totals.append(item_total)
                payable = next((c for c, _ in parts if c.amount_yuan and c.eligible is not False), parts[0][0])
                update: dict[str, Any] = {"amount_yuan": item_total.amount_yuan or payable.amount_yuan}
                potentials = [(c.potential_amount_yuan, n) for c, n in parts if c.potential_amount_yuan]
                if potentials and len(potentials) == len(parts):
                    update["potential_amount_yuan"] = sum(v * n for v, n in potentials)
                    if update["potential_amount_yuan"] != payable.potential_amount_yuan:
                        turn.evidence.append(format_yuan(update["potential_amount_yuan"]))
                calc = payable.model_copy(update=update)
            else:
                calc = calc_of(program.id, self.calc_facts(program, plan, turn))
                turn.calculations.append(calc)
            self._validity(program.doc_id, turn, calc.validity)
            turn.evidence.extend(calc.steps)
            if calc.eligible is False:
                unmet.append((program, calc))
            elif calc.amount_yuan is not None and calc.eligible is True:
                eligible.append((program, calc))
            else:
                needs.append((program, calc))
        state.program_ids = [p.id for p, _ in eligible + needs] or state.program_ids
        if not (eligible or needs or unmet):
            return self._list(plan, u, state, turn)
        sections = []
        by_doc: dict[str, list] = {}
        for p, c in eligible + needs + unmet:
            by_doc.setdefault(p.doc_id, []).append((p, c))
        # documents still in force first, then those expired or closed
        order = sorted(by_doc, key=lambda d: not claimable(self._validity(d, turn)))
        for doc_id, rows in ((d, by_doc[d]) for d in order):
            v = self._validity(doc_id, turn)
            head = f"**{self.catalog.document(doc_id).title}**（{status_tag(v, turn.as_of, self.catalog)}）"
            lines = [head]
            if not claimable(v):
                lines.append("- " + validity_sentence(self.catalog, v, turn.as_of))
            for p, c in rows:
                marker = turn.cites.mark(self.formula_clause(p))
                if (p, c) in eligible:
                    word = "最高可获得" if claimable(v) else "按原规定最高可获得"
                    lines.append(f"- ✓ {p.name}{marker}：{word}{format_yuan(c.amount_yuan)}" + self.period_note(p, c))
                elif (p, c) in unmet:
                    lines.append(f"- ✗ {p.name}{marker}：不符合（{join_zh(c.unmet)}）")
                else:
                    if c.potential_amount_yuan is not None:
                        what = f"若其余条件满足最高{format_yuan(c.potential_amount_yuan)}；"
                    elif p.formula.kind == "none":
                        what = "文件未规定金额；"
                    else:
                        what = ""
                    lines.append(f"- ？ {p.name}{marker}：{what}还需确认{join_zh(self.condition_lines(p, c.missing), '、')}")
            sections.append("\n".join(lines))
        total = self._total_section(plan, eligible, turn)
        if total:
            sections.append(total)
        if plan.presumed:
            sections.append("假设贵单位" + join_zh(plan.presumed, "、") + "（如不符合请告诉我）。")
        if any(c.amount_yuan for _, c in eligible):
            sections.append(disclaimer())
        return "answered", "\n\n".join(sections)

    # --- lookups ------------------------------------------------------------------------------------------------------
    def _lookup(self, plan: Plan, u: Understanding, state: SessionState, turn: Turn) -> tuple[str, str]:
        """The plan's lookup, and each further lookup the question asks for (“条件和材料”, “是什么、有效期多久”)."""
        status, text = self._one_lookup(plan.intent, plan, u, state, turn)
        return status, self._with_further_lookups(text, plan, u, state, turn)

    def _with_further_lookups(self, text: str, plan: Plan, u: Understanding, state: SessionState, turn: Turn) -> str:
        for extra in plan.also:
            _, more = self._one_lookup(extra, plan, u, state, turn)
            if more and more not in text:
                text += "\n\n" + more
        return text

    def _one_lookup(self, intent: str, plan: Plan, u: Understanding, state: SessionState,
                    turn: Turn) -> tuple[str, str]:
        if plan.programs:
            state.program_ids = [p.id for p in plan.programs]
        if intent == "standards":
            return self.standards(plan.programs, turn)
        if intent == "stacking":
            docs = [p.doc_id for p in plan.programs] or plan.docs
            text = self._stacking_lines(docs, turn, {p.id for p in plan.programs} or None, limits=True)
            return "answered", text or "文件对能否叠加享受没有作出规定。"
        if intent in ("validity", "can_apply", "deadline", "channel"):
            if plan.programs:
                return self.program_dates(plan.programs, turn, intent)
            return self.documents_dates(plan.docs, turn, intent)
        if intent == "materials":
            return self.materials(plan.programs, turn)
        if intent == "contacts":
            if plan.programs:
                return self.program_contacts(plan.programs, turn)
            return self.contacts(plan.docs, turn)
        if intent == "interpreter":
            return self.interpreter(plan.docs or [p.doc_id for p in plan.programs], turn)
        if intent == "list":
            return self._list(plan, u, state, turn)
        return self.conditions(plan.programs or self.region_programs(plan), turn)

    def region_programs(self, plan: Plan) -> list[Program]:
        return [p for r in plan.regions for p in self.catalog.programs_of(r) if not p.implements]

    def conditions(self, programs: list[Program], turn: Turn) -> tuple[str, str]:
        sections = []
        for program in programs:
            marker = "".join(turn.cites.mark(cid) for cid in program.clause_ids[:2])
            lines = [f"**{program.name}**{marker} 的条件："]
            for cond in program.conditions:
                marker = turn.cites.mark(self.clause_of(program, cond))
                lines.append(f"- {cond.description}（原文：“{cond.phrase}”）{marker}")
                turn.evidence.append(cond.phrase)
            if program.formula.kind == "none":
                lines.append(f"- 金额：{program.formula.reason}")
            elif program.formula.phrase:
                lines.append(f"- 支持标准（原文）：“{program.formula.phrase}”{turn.cites.mark(self.formula_clause(program))}")
                turn.evidence.append(program.formula.phrase)
            for note in program.notes[:2]:
                lines.append(f"- 注：{note}")
                turn.evidence.append(note)
            v = self._validity(program.doc_id, turn)
            lines.append("- " + validity_sentence(self.catalog, v, turn.as_of))
            sections.append("\n".join(lines))
        return "answered", "\n\n".join(sections)

    def materials(self, programs: list[Program], turn: Turn) -> tuple[str, str]:
        sections = []
        for program in programs:
            if not program.materials:
                marker = turn.cites.mark(program.clause_ids[0])
                text = f"**{program.name}**{marker}：该文件没有列出申报材料。"
                note = self.catalog.document(program.doc_id).application_note
                if note:
                    text += f"{note.text}{turn.cites.mark(note.clause_id)}，请以届时发布的指南为准。"
                    turn.evidence.append(note.text)
                sections.append(text)
                continue
            lines = [f"**{program.name}** 需要提交的材料："]
            for i, m in enumerate(program.materials, 1):
                marker = turn.cites.mark(m.clause_id) if m.clause_id else ""
                attach = f"（{m.attachment}）" if m.attachment and m.attachment not in m.name else ""
                lines.append(f"{i}. {m.name}{attach}{marker}")
                turn.evidence.append(m.name)
            if program.application and program.application.deadline:
                lines.append("- " + self.deadline_line(program, turn))
            sections.append("\n".join(lines))
        return "answered", "\n\n".join(sections)

    def _status_marker(self, v, turn: Turn) -> str:
        """The clause that decides a program's standing: the validity period when expired, else the window."""
        role = "period" if v.status in ("expired", "not_yet") or v.replaced_by else "window"
        return turn.cites.mark(self.catalog.role_clause(v.doc_id, role))

    def _role_marker(self, doc_id: str, turn: Turn, intent: str) -> str:
        role = "period" if intent == "validity" else "window"
        return turn.cites.mark(self.catalog.role_clause(doc_id, role))

    def can_apply_line(self, doc_id: str, turn: Turn) -> str:
        """A plain yes/no first, with the date that decides it."""
        v = self._validity(doc_id, turn)
        doc = self.catalog.document(doc_id)
        marker = self._role_marker(doc_id, turn, "deadline")
        if v.replaced_by and v.replaced_from:
            word = "修订替代" if v.replaced_kind == "supersede" else "废止"
            return (f"**不能**：《{doc.title}》已被{self.catalog.doc_label(v.replaced_by)}自{zh_date(v.replaced_from)}"
                    f"起{word}{marker}。")
        if doc.deadline is not None:
            close = zh_date(doc.deadline) + (doc.deadline_time or "")
            if v.window_open:
                return f"**能**：《{doc.title}》的申报截止时间为{close}{marker}，目前仍在申报期内。"
            if turn.as_of > doc.deadline:
                return f"**不能**：《{doc.title}》的申报已于{close}截止{marker}。"
            return f"**暂不能**：《{doc.title}》的申报自{zh_date(doc.window_opens)}起{marker}。"
        if v.status == "expired":
            return f"**不能**：《{doc.title}》已于{zh_date(v.effective_to)}到期失效{marker}。"
        if v.status == "not_yet":
            return f"**暂不能**：《{doc.title}》自{zh_date(v.effective_from)}起施行{marker}。"
        if v.effective_to is None:
            return f"**能**：《{doc.title}》未规定有效期截止日{marker}，具体申报时间以主管部门通知为准。"
        return f"**能**：《{doc.title}》有效期至{zh_date(v.effective_to)}{marker}，目前仍有效（具体申报时间以主管部门通知为准）。"

    def program_dates(self, programs: list[Program], turn: Turn, intent: str) -> tuple[str, str]:
        sections = []
        seen_docs: set[str] = set()
        if intent == "can_apply":
            sections.append("\n".join(dict.fromkeys(self.can_apply_line(p.doc_id, turn) for p in programs)))
        for program in programs:
            lines = [f"**{program.name}**"]
            applying = program if program.application and program.application.deadline else \
                self.catalog.guide_for(program)
            if applying is not None and applying.application and applying.application.deadline:
                lines.append("- " + self.deadline_line(applying, turn))
            if program.doc_id not in seen_docs:
                # what holds for the whole document (its validity, its note on applying) is said once
                seen_docs.add(program.doc_id)
                v = self._validity(program.doc_id, turn)
                lines.append("- " + validity_sentence(self.catalog, v, turn.as_of) + self._role_marker(program.doc_id, turn, intent))
                note = self.catalog.document(program.doc_id).application_note
                if note and (intent != "validity" or any(c in turn.question for c in note.cues)):
                    lines.append(f"- {note.text}{turn.cites.mark(note.clause_id)}。")
                    turn.evidence.append(note.text)
            if len(lines) > 1:
                sections.append("\n".join(lines))
        return "answered", "\n\n".join(sections)

    def documents_dates(self, docs: list[str], turn: Turn, intent: str) -> tuple[str, str]:
        lines = []
        if intent == "can_apply":
            lines += [self.can_apply_line(d, turn) for d in dict.fromkeys(docs)]
        for doc_id in dict.fromkeys(docs):
            v = self._validity(doc_id, turn)
            lines.append("- " + validity_sentence(self.catalog, v, turn.as_of) + self._role_marker(doc_id, turn, intent))
            doc = self.catalog.document(doc_id)
            app = doc.application
            if app is not None and intent in ("deadline", "channel", "can_apply"):
                lines.append(f"  申报方式：{app.channel}。")
                turn.evidence.append(app.channel)
            note = doc.application_note
            if note and (intent != "validity" or any(c in turn.question for c in note.cues)):
                lines.append(f"- {note.text}{turn.cites.mark(note.clause_id)}。")
                turn.evidence.append(note.text)
            process = self.catalog.role_clause(doc_id, "process")
            if process and intent in ("channel", "deadline"):
                text = self.catalog.clause(process).text
                lines.append(f"  审核程序{turn.cites.mark(process)}：{excerpt(text, turn.question, 200)}")
                turn.evidence.append(text)
        return "answered", "\n".join(lines)

    def program_contacts(self, programs: list[Program], turn: Turn) -> tuple[str, str]:
        """A program whose clause names its own contact (“（联系人：…，电话）”) is answered with it."""
        lines = []
        rest: list[str] = []
        for program in programs:
            own = next(((cid, m.group(0)) for cid in program.clause_ids
                        for m in [re.search(r"[（(]联系人[:：][^）)]+[）)]", self.catalog.clause(cid).text)] if m), None)
            if own:
                lines.append(f"- {program.name}{turn.cites.mark(own[0])}：{own[1].strip('（()）')}")
                turn.evidence.append(own[1])
            else:
                rest.append(program.doc_id)
        if rest:
            _, text = self.contacts(rest, turn)
            lines.append(text)
        return "answered", ("联系方式：\n" if lines and not rest else "") + "\n".join(lines)

    def contacts(self, doc_ids: list[str], turn: Turn) -> tuple[str, str]:
        lines = []
        for doc_id in dict.fromkeys(doc_ids):
            doc = self.catalog.document(doc_id)
            marker = turn.cites.mark(self.catalog.role_clause(doc_id, "contacts") or self.catalog.role_clause(doc_id, "interpreter"))
            text = contacts_text(self.catalog, doc_id)
            note = doc.contacts_note
            if note:
                other = contacts_text(self.catalog, note.see_document) if note.see_document else ""
                text = f"{note.text}：{other}" if other else note.text
                turn.cites.mark(note.clause_id)
            elif not doc.contacts or not text:
                text = f"文件未列联系电话，由{doc.interpreter}负责解释"
            turn.evidence.append(text)
            lines.append(f"- {self.catalog.doc_label(doc_id)}{marker}：{text}")
        return "answered", "联系方式：\n" + "\n".join(lines)

    def interpreter(self, doc_ids: list[str], turn: Turn) -> tuple[str, str]:
        lines = []
        for doc_id in dict.fromkeys(doc_ids):
            doc = self.catalog.document(doc_id)
            marker = turn.cites.mark(self.catalog.role_clause(doc_id, "interpreter"))
            lines.append(f"- {self.catalog.doc_label(doc_id)}由{doc.interpreter}负责解释{marker}。")
            turn.evidence.append(doc.interpreter)
        return "answered", "\n".join(lines)

    def _stacking_lines(self, docs: list[str], turn: Turn, program_ids: set[str] | None = None,
                        limits: bool = False) -> str:
        """The documents' stacking rules; a mutual exclusion naming none of `program_ids` is skipped. Budget caps
        (年度资金总控) are added when the question is about the rules themselves (`limits`)."""
        lines = ["关于能否同时享受（叠加）："]
        for doc_id in dict.fromkeys(docs):
            if limits:
                self._validity(doc_id, turn)
            for rule in self.catalog.stacking(doc_id):
                if rule.kind == "budget_cap" and not limits:
                    continue
                if program_ids and rule.kind == "mutually_exclusive" and rule.programs and not program_ids & set(rule.programs):
                    continue
                lines.append(f"- {rule.text}{turn.cites.mark(rule.clause_id)}")
                turn.evidence.append(rule.text)
        return "\n".join(lines) if len(lines) > 1 else ""

    def standards(self, programs: list[Program], turn: Turn) -> tuple[str, str]:
        from tools.calculator import describe_formula

        sections = ["各项政策的支持标准对比：" if len(programs) > 1 else "支持标准："]
        for program in programs:
            marker = turn.cites.mark(self.formula_clause(program))
            lines = [f"**{program.name}**{marker}"]
            if program.formula.kind == "none":
                lines.append(f"- 金额：{program.formula.reason}")
            else:
                formula = describe_formula(program, self.catalog)
                lines.append(f"- 标准：{formula}")
                turn.evidence.append(formula)
                if program.formula.phrase:
                    lines.append(f"- 原文：“{program.formula.phrase}”")
                    turn.evidence.append(program.formula.phrase)
            conds = [c for c in program.conditions if c.phrase]
            if conds:
                markers = "".join(dict.fromkeys(turn.cites.mark(self.clause_of(program, c)) for c in conds[:5]))
                lines.append("- 主要条件：" + join_zh(c.description for c in conds[:5]) + markers)
                turn.evidence.extend(c.description for c in conds[:5])
            if program.payment_form:
                lines.append(f"- 兑现方式：{program.payment_form}")
            if program.beneficiary != "企业":
                lines.append(f"- 资金拨付对象：{program.beneficiary}")
            v = self._validity(program.doc_id, turn)
            lines.append("- " + validity_sentence(self.catalog, v, turn.as_of))
            sections.append("\n".join(lines))
        return "answered", "\n\n".join(sections)

    def _list(self, plan: Plan, u: Understanding, state: SessionState, turn: Turn) -> tuple[str, str]:
        if plan.kind == "list" and plan.also:
            plan.also, also = [], plan.also
            status, text = self._list(plan, u, state, turn)
            for extra in also:
                _, more = self._one_lookup(extra, plan, u, state, turn)
                text += "\n\n" + more
            return status, text
        lines = []
        for region in plan.regions or [r.key for r in self.catalog.regions]:
            programs = [p for p in self.catalog.programs_of(region) if not p.implements]
            if not programs:
                continue
            v = self._validity(programs[0].doc_id, turn)
            lines.append(f"**{self.catalog.region(region).name}**（{status_tag(v, turn.as_of, self.catalog)}）：")
            for program in programs:
                marker = turn.cites.mark(program.clause_ids[0])
                conds = [c.description for c in program.conditions[:2]]
                paid = f"（兑现给{program.beneficiary}）" if program.beneficiary != "企业" else ""
                form = f"（以{program.payment_form}兑现）" if program.payment_form else ""
                lines.append(f"- {program.name}{marker}{paid or form}" + (f"：{join_zh(conds, '，')}" if conds else ""))
                turn.evidence.extend(conds)
        lines.append("\n告诉我具体项目和相关金额（例如购买服务的费用或投入金额），我可以帮您测算最高可获得的金额。")
        return ("needs_info" if plan.intent in ("profile", "amount") else "answered"), "\n".join(lines)

    # --- retrieval answers --------------------------------------------------------------------------------------------
    def _clause(self, plan: Plan, u: Understanding, state: SessionState, turn: Turn) -> tuple[str, str]:
        clause = self.catalog.clause(plan.clause_id)
        self._remember_programs_of(clause.id, state)
        marker = turn.cites.mark(clause.id)
        lines = [f"{self.catalog.doc_label(clause.doc_id)} {clause.label_path}{marker}：", f"> {excerpt(clause.text, u.text)}"]
        turn.evidence.append(clause.text)
        if not self.has_money_rule(clause.id) and plan.note != "term":
            lines.append("该条款没有规定具体的补助金额或比例，文件未规定的金额无法测算。")
        # “…券有没有有效期”: each further lookup the question asks for
        text = self._with_further_lookups("\n".join(lines), plan, u, state, turn)
        if not plan.also:
            v = self._validity(clause.doc_id, turn)
            text += "\n" + validity_sentence(self.catalog, v, turn.as_of)
        return "answered", text

    def _cite_period_if_outside(self, program: Program, calc: Calculation, turn: Turn) -> None:
        """Activity outside the period a program covers: the clause that sets the period is cited."""
        period = self.catalog.activity_period(program)
        if period is not None and any(period.phrase in u for u in calc.unmet):
            turn.cites.mark(period.clause_id)
            own = self.catalog.documents[program.doc_id].activity_period
            if own is not None and own.clause_id != period.clause_id and own.to == period.to:
                turn.cites.mark(own.clause_id)  # the program's window ends with the document's validity

    def _remember_programs_of(self, clause_id: str, state: SessionState) -> None:
        """A clause shown on its own still names the program a follow-up means (“它对服务企业数量有啥要求”)."""
        owners = [p.id for p in self.catalog.programs_citing(clause_id) if not p.implements]
        if owners:
            state.program_ids = owners[:1]

    def has_money_rule(self, clause_id: str) -> bool:
        return any(p.formula.kind != "none" for p in self.catalog.programs_citing(clause_id))

    def _search(self, plan: Plan, u: Understanding, state: SessionState, turn: Turn) -> tuple[str, str]:
        tools = self.tools
        if tools.retriever is None:
            example = self.catalog.lexicon.words.examples.get("program", "")
            return "not_found", "抱歉，检索服务暂不可用，请直接说明想了解的补助项目" + (f"，例如“{example}”。" if example else "。")
        region = self.planner.region_filter(plan.regions)
        if plan.docs:
            results = [tools.search(u.text, k=3, doc_id=d) for d in list(dict.fromkeys(plan.docs))[:2]]
            result = max(results, key=lambda r: (r.relevance, r.hits[0].score if r.hits else 0))
            hits = sorted((h for r in results for h in r.hits), key=lambda h: h.score, reverse=True)
        else:
            result = tools.search(u.text, k=3, region=region)
            hits = list(result.hits)
        if not hits or not self.planner.relevant(result, u):
            if plan.intent in ("amount", "eligibility") and plan.regions:
                return self._list(plan, u, state, turn)
            return self._not_found(plan, u, state, turn)
        # Retrieved text is data: a clause that tries to instruct the assistant is never quoted or followed, and only
        # clauses of the curated corpus are cited (anything else that reached the index is untrusted).
        reader = self.planner.reader
        clean = self.catalog.normalizer.normalize
        safe = [h for h in hits if h.id in self.catalog.clauses and not reader.is_injection(clean(h.text))]
        dropped = sum(1 for h in hits if reader.is_injection(clean(h.text)))
        if hits[0].id not in self.catalog.clauses or reader.is_injection(clean(hits[0].text)):
            status, text = self._not_found(plan, u, state, turn)
            return status, text + ("\n\n" + INSTRUCTION_DROPPED_TEXT if dropped else "")
        turn.retrieved.update(h.id for h in safe)
        top = safe[0]
        self._remember_programs_of(top.id, state)
        lines = ["资料中的相关规定："]
        shown = [top] + [h for h in safe[1:2] if h.score >= 0.9 * top.score]
        for hit in shown:
            marker = turn.cites.mark(hit.id)
            text = self.catalog.clause(hit.id).text
            lines.append(f"- {self.catalog.doc_label(hit.doc_id)} {hit.clause}{marker}：\n  > {excerpt(text, u.text)}")
            turn.evidence.append(text)
            self._validity(hit.doc_id, turn)
        if dropped:
            lines.append(INSTRUCTION_DROPPED_TEXT)
        if (u.has("amount") or u.has_money) and not self.has_money_rule(top.id):
            lines.append("该条款没有规定具体的补助金额或比例，文件未规定的金额无法测算。")
        if top.doc_id in turn.validity:
            lines.append(validity_sentence(self.catalog, turn.validity[top.doc_id], turn.as_of))
        return "answered", "\n".join(lines)


def excerpt(text: str, query: str = "", limit: int = 400) -> str:
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
