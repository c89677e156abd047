"""Score recorded answers against gold expectations; aggregate per stratum, per split and overall.

Every check is a pure function of (Expect, Answer, question history) so it can be unit-tested on hand-made
`tools.schema.Answer` objects. Figures in answer text are read with the one number reader (`tools.money`:
"40万元" == "400,000元" == "四十万元"), the same the answer guard and the fact reader use.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from evals.runner import Case, CaseRun, Expect, TurnRun

REFUSAL_STATUSES = ("refused", "not_found")

# Ordered list of the per-turn checks; a turn passes when every applicable check passes.
# (citation precision is reported, not required; latency is reported separately.)
CHECKS = ("error", "status", "amount", "amount_in_text", "amounts", "total", "eligible", "citation_recall", "phrases", "forbid",
          "forbid_amounts", "refusal", "validity", "chinese", "faithfulness")


# --- figures (numbers in text) -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fig:
    kind: str  # money | percent
    value: Decimal
    text: str


def find_figures(text: str) -> list[Fig]:
    """Money figures (yuan) and percentages in `text`, read with the one number reader (tools.money) that the
    answer guard and the fact reader use."""
    from tools.money import find_money, find_percents

    if not text:
        return []
    figs = [(m.start, Fig("money", Decimal(m.value_yuan), m.raw)) for m in find_money(text)]
    figs += [(m.start, Fig("percent", Decimal(m.value), m.raw)) for m in find_percents(text)]
    return [f for _, f in sorted(figs, key=lambda t: t[0])]


def evidence_values(answer: Any, extra_texts: Iterable[str] = ()) -> tuple[set[Decimal], set[Decimal]]:
    """(money, percents) a faithful answer may use: tool output, cited clause text, the user's own words."""
    texts: list[str] = list(extra_texts)
    money: set[Decimal] = set()
    citations = list(answer.citations)
    for tot in getattr(answer, "totals", []):  # sums computed by the calculator (tools.calculator.total)
        money.add(Decimal(tot.amount_yuan))
        texts.extend(tot.steps)
    for calc in answer.calculations:
        if calc.amount_yuan is not None:
            money.add(Decimal(calc.amount_yuan))
        texts.extend([*calc.steps, *calc.assumptions, *calc.notes, *calc.missing, *calc.unmet, calc.period,
                      calc.payment_form])
        citations.extend(calc.citations)
    texts.extend(c.text for c in citations)
    texts.extend(v.message for v in answer.validity if getattr(v, "message", ""))
    percents: set[Decimal] = set()
    for text in texts:
        for f in find_figures(text or ""):
            (money if f.kind == "money" else percents).add(f.value)
    return money, percents


def untraceable(answer: Any, history: Sequence[str]) -> tuple[int, list[str]]:
    """(figures in the answer text, the ones not traceable to evidence)."""
    figures = find_figures(answer.answer or "")
    money, percents = evidence_values(answer, history)
    bad = [f.text for f in figures if f.value not in (money if f.kind == "money" else percents)]
    return len(figures), bad


# --- text ----------------------------------------------------------------------------------------------------

def norm(text: str) -> str:
    """NFKC, no whitespace, lower case: "（含）" and "(含)" compare equal, "30 万元" matches "30万元"."""
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"\s+", "", text).lower()


def has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text or ""))


# --- calculations --------------------------------------------------------------------------------------------

def _calcs_for(answer: Any, programs: Sequence[str]) -> list[Any]:
    if not programs:
        return list(answer.calculations)
    return [c for c in answer.calculations if c.program_id in programs]


def offered_amount(answer: Any, programs: Sequence[str] = ()) -> int | None:
    """The ceiling the answer offers: the largest amount_yuan among the (matching) calculations."""
    amounts = [c.amount_yuan for c in _calcs_for(answer, programs) if c.amount_yuan is not None]
    return max(amounts) if amounts else None


def positive_offers(answer: Any) -> list[tuple[str, int]]:
    """Calculations that offer money: a positive amount not marked ineligible."""
    return [(c.program_id, c.amount_yuan) for c in answer.calculations
            if c.amount_yuan is not None and c.amount_yuan > 0 and c.eligible is not False]


def primary_calc(answer: Any, programs: Sequence[str] = ()) -> Any | None:
    calcs = _calcs_for(answer, programs)
    if not calcs:
        return None
    with_amount = [c for c in calcs if c.amount_yuan is not None]
    return max(with_amount, key=lambda c: c.amount_yuan) if with_amount else calcs[0]


def cited_ids(answer: Any) -> list[str]:
    ids: list[str] = []
    for c in [*answer.citations, *(cc for calc in answer.calculations for cc in calc.citations)]:
        if c.id not in ids:
            ids.append(c.id)
    return ids


def _doc(clause_id: str) -> str:
    return clause_id.split(":", 1)[0]


def _status_clauses(answer) -> set[str]:
    """The clauses that set the validity period or the application window of each document the answer states a
    status for (已失效 / 申报已截止 / 有效期…): citing them for that statement is precise, whatever the case lists."""
    text = answer.answer
    if not any(w in text for w in ("已失效", "截止", "有效期", "到期")):
        return set()
    from tools.catalog import default_catalog

    catalog = default_catalog()
    docs = {c.validity.doc_id for c in answer.calculations if getattr(c, "validity", None) is not None}
    docs |= {_doc(c.id) for c in answer.citations}
    return {cid for d in docs if d in catalog.documents for role in ("period", "window")
            if (cid := catalog.role_clause(d, role))}


def _allowed(expect: Expect, clause_id: str) -> bool:
    pool = {x for group in expect.cite for x in group} | set(expect.cite_ok)
    if clause_id in pool or _doc(clause_id) in expect.cite_docs:
        return True
    return any(p.endswith(":*") and _doc(clause_id) == p[:-2] for p in pool)


# --- one turn --------------------------------------------------------------------------------------------------

@dataclass
class TurnScore:
    question: str
    latency_ms: float
    status: str | None
    amount: int | None  # offered amount (for the expected programs, if any)
    eligible: Any
    cited: list[str]
    checks: dict[str, bool] = field(default_factory=dict)  # applicable checks only
    details: dict[str, Any] = field(default_factory=dict)
    citation_precision: float | None = None
    citation_recall: float | None = None
    phrase_hits: int = 0
    phrase_total: int = 0
    figures: int = 0
    untraceable: list[str] = field(default_factory=list)
    error: str | None = None
    answer_text: str = ""
    expects_help: bool = False  # the gold answer is a real answer (answered/needs_info): a refusal is a false refusal

    @property
    def passed(self) -> bool:
        return all(self.checks.values())

    @property
    def failed_checks(self) -> list[str]:
        return [k for k in CHECKS if self.checks.get(k) is False]


def score_turn(expect: Expect, run: TurnRun, history: Sequence[str] = ()) -> TurnScore:
    """Score one answer. `history` = the session's questions so far (the user's own figures are evidence)."""
    answer = run.answer
    if answer is None:
        return TurnScore(run.question, run.latency_ms, None, None, None, [], checks={"error": False},
                         details={"error": run.error}, error=run.error, expects_help=expect.expects_help)
    ts = TurnScore(run.question, run.latency_ms, answer.status, offered_amount(answer, expect.programs),
                   getattr(primary_calc(answer, expect.programs), "eligible", None), cited_ids(answer),
                   answer_text=answer.answer or "", expects_help=expect.expects_help)
    c, d = ts.checks, ts.details
    text = norm(answer.answer)
    offers = positive_offers(answer)

    if expect.status is not None:
        c["status"] = answer.status in expect.status
        if not c["status"]:
            d["status"] = {"expected": list(expect.status), "got": answer.status}

    if expect.amount_check == "exact":
        c["amount"] = ts.amount == expect.amount_yuan
        if not c["amount"]:
            d["amount"] = {"expected": expect.amount_yuan, "got": ts.amount,
                           "calculations": [(x.program_id, x.amount_yuan, x.eligible) for x in answer.calculations]}
        if expect.amount_yuan and answer.status == "answered":
            stated = {f.value for f in find_figures(answer.answer) if f.kind == "money"}
            c["amount_in_text"] = Decimal(expect.amount_yuan) in stated
            if not c["amount_in_text"]:
                d["amount_in_text"] = {"expected": expect.amount_yuan, "stated": sorted(str(v) for v in stated)}
    elif expect.amount_check == "no_amount":
        c["amount"] = not offers
        if offers:
            d["amount"] = {"expected": None, "got": offers}

    if expect.amounts:
        got = {pid: offered_amount(answer, [pid]) for pid in expect.amounts}
        c["amounts"] = all(got[pid] == v for pid, v in expect.amounts.items())
        if not c["amounts"]:
            d["amounts"] = {"expected": dict(expect.amounts), "got": got}

    if expect.total_yuan is not None:
        stated = {f.value for f in find_figures(answer.answer) if f.kind == "money"}
        c["total"] = Decimal(expect.total_yuan) in stated
        if not c["total"]:
            d["total"] = {"expected": expect.total_yuan, "stated": sorted(str(v) for v in stated)}

    if expect.eligible_check:
        calc = primary_calc(answer, expect.programs)
        got_el = None if calc is None else calc.eligible
        c["eligible"] = any(got_el is v for v in expect.eligible)
        if not c["eligible"]:
            d["eligible"] = {"expected": expect.eligible[0] if len(expect.eligible) == 1 else list(expect.eligible),
                             "got": got_el, "program": None if calc is None else calc.program_id}

    groups = list(expect.cite) + [(f"{doc}:*",) for doc in expect.cite_docs]
    if groups:
        def hit(alt: str) -> bool:
            return any(_doc(i) == alt[:-2] for i in ts.cited) if alt.endswith(":*") else alt in ts.cited

        satisfied = [any(hit(a) for a in g) for g in groups]
        ts.citation_recall = sum(satisfied) / len(groups)
        c["citation_recall"] = all(satisfied)
        if not all(satisfied):
            d["citation_recall"] = {"missing": [list(g) for g, ok in zip(groups, satisfied) if not ok], "cited": ts.cited}
        if ts.cited:
            status = _status_clauses(answer)
            ts.citation_precision = sum(_allowed(expect, i) or i in status for i in ts.cited) / len(ts.cited)

    if expect.phrases:
        hits = [any(norm(alt) in text for alt in g) for g in expect.phrases]
        ts.phrase_hits, ts.phrase_total = sum(hits), len(hits)
        c["phrases"] = all(hits)
        if not all(hits):
            d["phrases"] = {"missing": [list(g) for g, ok in zip(expect.phrases, hits) if not ok]}

    if expect.forbid:
        found = [p for p in expect.forbid if norm(p) in text]
        c["forbid"] = not found
        if found:
            d["forbid"] = {"found": found}

    if expect.forbid_amounts:
        bad = [(x.program_id, x.amount_yuan) for x in answer.calculations if x.amount_yuan in expect.forbid_amounts]
        c["forbid_amounts"] = not bad
        if bad:
            d["forbid_amounts"] = {"found": bad}

    if expect.must_refuse:
        c["refusal"] = answer.status in REFUSAL_STATUSES and not offers
        if not c["refusal"]:
            d["refusal"] = {"status": answer.status, "offers": offers}

    if expect.validity:
        got_v = {getattr(v, "doc_id", ""): v for v in answer.validity}
        wrong = {}
        for doc_id, state in expect.validity.items():
            v = got_v.get(doc_id)
            if v is None:
                wrong[doc_id] = {"expected": state, "got": None}
                continue
            ok = (v.window_open is True) if state == "window_open" else (v.window_open is False) if state == "window_closed" \
                else v.status == state
            if not ok:
                wrong[doc_id] = {"expected": state, "got": {"status": v.status, "window_open": v.window_open}}
        c["validity"] = not wrong
        if wrong:
            d["validity"] = wrong

    if expect.chinese:
        c["chinese"] = has_cjk(answer.answer)

    ts.figures, ts.untraceable = untraceable(answer, history)
    c["faithfulness"] = not ts.untraceable
    if ts.untraceable:
        d["faithfulness"] = {"untraceable": ts.untraceable}
    return ts


# --- one case --------------------------------------------------------------------------------------------------

@dataclass
class CaseScore:
    id: str
    stratum: str
    split: str
    region: str
    must_refuse: bool
    fixture: str | None
    fixture_used: bool
    turns: list[TurnScore]

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.turns)

    @property
    def failed_checks(self) -> list[str]:
        out: list[str] = []
        for t in self.turns:
            out.extend(k for k in t.failed_checks if k not in out)
        return out

    def summary(self) -> dict:
        """What the baseline keeps per case (and what the diff compares)."""
        return {
            "pass": self.passed,
            "stratum": self.stratum,
            "split": self.split,
            "status": [t.status for t in self.turns],
            "amount": [t.amount for t in self.turns],
            "failed": self.failed_checks,
        }

    def to_dict(self) -> dict:
        return {
            "id": self.id, "stratum": self.stratum, "split": self.split, "region": self.region,
            "must_refuse": self.must_refuse, "fixture": self.fixture, "fixture_used": self.fixture_used,
            "pass": self.passed, "failed": self.failed_checks,
            "turns": [
                {"question": t.question if len(t.question) <= 300 else t.question[:300] + f"…(+{len(t.question) - 300}字)",
                 "status": t.status, "amount": t.amount, "eligible": t.eligible, "cited": t.cited,
                 "latency_ms": round(t.latency_ms, 2), "pass": t.passed, "checks": t.checks, "details": t.details,
                 "citation_precision": t.citation_precision, "citation_recall": t.citation_recall,
                 "figures": t.figures, "untraceable": t.untraceable, "answer": t.answer_text}
                for t in self.turns
            ],
        }


def score_case(run: CaseRun) -> CaseScore:
    history: list[str] = []
    turns: list[TurnScore] = []
    for turn, trun in zip(run.case.turns, run.turns):
        history.append(turn.question)
        turns.append(score_turn(turn.expect, trun, history))
    return CaseScore(run.case.id, run.case.stratum, run.case.split, run.case.region, run.case.must_refuse,
                     run.case.fixture, run.fixture_used, turns)


# --- aggregation -------------------------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank-interpolated percentile (q in [0, 100]); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _rate(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def aggregate(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """The metric set for a group of cases. Rates are None when nothing in the group applies."""
    turns = [t for s in scores for t in s.turns]

    def rate(check: str) -> tuple[float | None, int]:
        xs = [t.checks[check] for t in turns if check in t.checks]
        return _rate(sum(xs), len(xs)), len(xs)

    amount_checks = [t.checks[k] for t in turns for k in ("amount", "amounts") if k in t.checks]
    precisions = [t.citation_precision for t in turns if t.citation_precision is not None]
    recalls = [t.citation_recall for t in turns if t.citation_recall is not None]
    phrase_hits = sum(t.phrase_hits for t in turns)
    phrase_total = sum(t.phrase_total for t in turns)
    figures = sum(t.figures for t in turns)
    untraceable_n = sum(len(t.untraceable) for t in turns)
    latencies = [t.latency_ms for t in turns if t.error is None]
    refusal = [t for s in scores for t in s.turns if "refusal" in t.checks]
    helpful = [t for t in turns if t.expects_help]  # a refusal there is a false refusal
    false_ref = sum(1 for t in helpful if t.status in REFUSAL_STATUSES)
    status_rate, status_n = rate("status")
    elig_rate, elig_n = rate("eligible")
    validity_rate, validity_n = rate("validity")
    in_text_rate, in_text_n = rate("amount_in_text")
    return {
        "cases": len(scores),
        "turns": len(turns),
        "case_accuracy": _rate(sum(s.passed for s in scores), len(scores)),
        "amount_accuracy": _rate(sum(amount_checks), len(amount_checks)),
        "amount_n": len(amount_checks),
        "amount_wrong": len(amount_checks) - sum(amount_checks),
        "amount_in_text": in_text_rate,
        "eligibility_accuracy": elig_rate,
        "eligibility_n": elig_n,
        "status_accuracy": status_rate,
        "status_n": status_n,
        "citation_precision": _rate(sum(precisions), len(precisions)) if precisions else None,
        "citation_recall": _rate(sum(recalls), len(recalls)) if recalls else None,
        "phrase_hit_rate": _rate(phrase_hits, phrase_total),
        "refusal_accuracy": _rate(sum(t.checks["refusal"] for t in refusal), len(refusal)),
        "refusal_n": len(refusal),
        "must_refuse_answered": sum(1 for t in refusal if not t.checks["refusal"]),
        "false_refusal_rate": _rate(false_ref, len(helpful)),
        "validity_accuracy": validity_rate,
        "numeric_faithfulness": 1.0 if figures == 0 else (figures - untraceable_n) / figures,
        "figures": figures,
        "untraceable": untraceable_n,
        "forbidden_hits": sum(1 for t in turns if t.checks.get("forbid") is False or t.checks.get("forbid_amounts") is False),
        "errors": sum(1 for t in turns if t.error),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "latency_max_ms": max(latencies) if latencies else None,
    }


def score_runs(runs: Sequence[CaseRun]) -> list[CaseScore]:
    return [score_case(run) for run in runs]


def summarize(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """overall / per stratum / per split / per region metric sets."""
    from evals.runner import STRATA

    by_stratum = {st: aggregate([s for s in scores if s.stratum == st]) for st in STRATA if any(s.stratum == st for s in scores)}
    by_split = {sp: aggregate([s for s in scores if s.split == sp]) for sp in ("tune", "frozen") if any(s.split == sp for s in scores)}
    regions = sorted({s.region for s in scores})
    by_region = {r: aggregate([s for s in scores if s.region == r]) for r in regions}
    return {"overall": aggregate(scores), "by_stratum": by_stratum, "by_split": by_split, "by_region": by_region}
