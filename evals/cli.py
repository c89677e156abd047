"""`policy-assistant eval`: run the gold set through the assistant and write evals/report/.

    policy-assistant eval                         # offline agent, all cases, report + diff against the baseline
    policy-assistant eval --split tune            # only the tuning split (frozen is never used for tuning)
    policy-assistant eval --retrieval             # also retrieval recall@k / MRR (evals.retrieval_eval)
    policy-assistant eval --agent llm --judge     # the LLM agent (configured by settings) and an LLM faithfulness judge
    policy-assistant eval --check                 # exit 1 when the gate fails (hard rules + evals/thresholds.yaml)
    policy-assistant eval --set blind3 --check    # a blind split (written from the documents alone), its own thresholds
    policy-assistant eval --update-baseline       # rewrite evals/baseline.json from this run
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="运行评测集（金额、资格、引用、拒答、数字可溯源、时延），生成报告",
                              description="运行评测集并在 evals/report/ 写出 report.json、summary.md、chart.png 与基线对比")
    p.add_argument("--agent", choices=("offline", "llm"), default="offline", help="离线智能体（默认）或已配置的大模型智能体")
    p.add_argument("--set", dest="case_set", choices=("gold", "blind", "blind2", "blind3", "blind4", "blind5", "blind6"), default="gold",
                   help="用例集：gold（默认）或按文件原文盲写的 blind / blind2 … blind6（单独报告、单独阈值）")
    p.add_argument("--split", choices=("tune", "frozen", "all"), default="all", help="数据划分（默认 all）")
    p.add_argument("--stratum", action="append", default=None, help="只跑某一分层，可重复")
    p.add_argument("--case", action="append", default=None, help="只跑某个用例 id（可用前缀*），可重复")
    p.add_argument("--retrieval", action="store_true", help="同时评测检索 recall@k / MRR")
    p.add_argument("--no-fixtures", action="store_true", help="不构建含投毒测试文档的独立索引（投毒用例将跑在正常索引上）")
    p.add_argument("--judge", action="store_true", help="LLM 评审忠实度（仅 --agent llm，非必需）")
    p.add_argument("--out", type=Path, default=None, help="报告目录（默认 evals/report）")
    p.add_argument("--check", action="store_true", help="门禁不通过时返回非零退出码")
    p.add_argument("--update-baseline", action="store_true", help="用本次结果重写 evals/baseline.json")
    p.add_argument("--data-dir", type=Path, default=None, help="数据目录（默认取设置）")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_run)


def run_eval(*, agent: str = "offline", split: str = "all", strata=None, ids=None, retrieval: bool = False,
             fixtures: bool = True, judge: bool = False, settings=None, fixture_data_dir: Path | None = None,
             progress=None, case_set: str = "gold") -> dict:
    """Run the eval end to end and return the report dict (nothing written)."""
    from evals.metrics import score_runs
    from evals.report import build_report
    from evals.runner import CASE_SETS, build_fixture_index, build_index, load_cases, make_services

    cases = load_cases(CASE_SETS[case_set], split=split, strata=strata, ids=ids)
    gold_ids = [c.id for c in load_cases(CASE_SETS[case_set])]
    services = make_services(agent, settings)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    build = build_index(services.settings)
    timings["index_build_s"] = time.perf_counter() - t0
    fixture_services = {}
    if fixtures and any(c.fixture for c in cases):
        from policy_assistant.services import Services

        t0 = time.perf_counter()
        fx_settings = build_fixture_index(services.settings, "poisoned", data_dir=fixture_data_dir)
        fixture_services["poisoned"] = Services(fx_settings)
        timings["fixture_index_build_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    from evals.runner import run_cases

    runs = run_cases(cases, services, fixtures=fixture_services, progress=progress)
    timings["run_s"] = time.perf_counter() - t0
    scores = score_runs(runs)
    retrieval_report = None
    if retrieval:
        from evals.retrieval_eval import run_retrieval_eval

        t0 = time.perf_counter()
        retrieval_report = run_retrieval_eval(services.settings)
        timings["retrieval_s"] = time.perf_counter() - t0
    judge_report = None
    if judge:
        if agent != "llm":
            raise RuntimeError("LLM 评审只在 --agent llm 时可用")
        judge_report = llm_judge(services.settings, scores)
    meta = {
        "agent": agent, "set": case_set, "split": split, "strata": strata, "cases": len(cases), "gold_ids": gold_ids,
        "embedder": services.settings.embedder, "index_build": getattr(build, "build_id", None),
        "fixtures_used": sorted(fixture_services), "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    return build_report(scores, meta=meta, retrieval=retrieval_report, judge=judge_report)


def llm_judge(settings, scores) -> dict:
    """Optional LLM-judge faithfulness (LLM mode only): does every statement follow from the cited clauses?"""
    import os

    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(base_url=settings.llm_base_url, model=settings.llm_model, temperature=0,
                       api_key=os.environ.get(settings.llm_api_key_env), timeout=settings.llm_timeout_s)
    verdicts = []
    for s in scores:
        for t in s.turns:
            if t.status != "answered" or not t.answer_text:
                continue
            prompt = ("你是严格的审核员。下面是一段政策问答的回答。仅判断：回答中的事实与金额是否都能从问题或引用条款中得到支持。"
                      "只回答“是”或“否”。\n\n问题：" + t.question[:500] + "\n\n回答：" + t.answer_text[:2000])
            try:
                reply = model.invoke(prompt).content.strip()
                verdicts.append({"id": s.id, "faithful": reply.startswith("是")})
            except Exception as exc:  # the judge is advisory: record and go on
                verdicts.append({"id": s.id, "faithful": None, "error": str(exc)[:200]})
    judged = [v for v in verdicts if v["faithful"] is not None]
    return {"judged": len(judged), "faithful_rate": (sum(v["faithful"] for v in judged) / len(judged)) if judged else None,
            "unfaithful": [v["id"] for v in judged if not v["faithful"]]}


def _run(args) -> int:
    from evals.report import BASELINE_PATH, REPORT_DIR, gate_failures, load_baseline, load_thresholds, write_baseline, write_report

    settings = None
    if args.data_dir:
        from policy_assistant.settings import Settings

        settings = Settings.from_env(data_dir=args.data_dir)

    def progress(i, n, case):
        if not args.quiet and (i % 25 == 0 or i == n):
            print(f"  {i}/{n} …", file=sys.stderr, flush=True)

    try:
        report = run_eval(agent=args.agent, split=args.split, strata=args.stratum, ids=args.case, retrieval=args.retrieval,
                          fixtures=not args.no_fixtures, judge=args.judge, settings=settings, progress=progress,
                          case_set=args.case_set)
    except RuntimeError as exc:
        print(f"评测无法运行：{exc}", file=sys.stderr)
        return 2
    thresholds = load_thresholds()
    blind = args.case_set != "gold"
    if blind:  # a blind split has its own thresholds and no baseline of the gold set
        thresholds = (thresholds.get("blind_sets") or {}).get(args.case_set) or {}
    baseline = None if blind else load_baseline()
    out = args.out or (REPORT_DIR if not blind else REPORT_DIR.parent / f"report-{args.case_set}")
    paths = write_report(report, out, baseline=baseline or {}, thresholds=thresholds)
    failures = gate_failures(report, thresholds, blind=blind)
    if not args.quiet:
        print_summary(report, failures)
        print(f"\n报告：{paths['summary']}  {paths['json']}" + (f"  {paths['chart']}" if "chart" in paths else ""))
    if args.update_baseline:
        if args.split != "all" or args.stratum or args.case or blind:
            print("只有完整运行（--split all，无过滤）才能更新基线", file=sys.stderr)
            return 2
        path = write_baseline(report, BASELINE_PATH)
        print(f"基线已更新：{path}")
    if args.check and failures:
        return 1
    return 0


def print_summary(report: dict, failures) -> None:
    from evals.report import METRIC_COLUMNS, STRATUM_ZH, metrics_table

    m = report["metrics"]
    rows = [(f"{st} {STRATUM_ZH.get(st, '')}", v) for st, v in m["by_stratum"].items()] + [("总体", m["overall"])]
    print(metrics_table(rows))
    o = m["overall"]
    print(f"\n金额错误 {o['amount_wrong']}/{o['amount_n']}；应拒答却作答 {o['must_refuse_answered']}/{o['refusal_n']}；"
          f"不可溯源数字 {o['untraceable']}/{o['figures']}；异常 {o['errors']}")
    retrieval = report.get("retrieval")
    if retrieval and "modes" in retrieval:
        for mode in ("bm25", "hybrid"):
            r = retrieval["modes"].get(mode, {}).get("all")
            if r:
                print(f"检索 {mode}: recall@1 {r['recall@1']:.3f} recall@5 {r['recall@5']:.3f} MRR {r['mrr']:.3f} (n={r['n']})")
    failed = [c for c in report["cases"] if not c["pass"]]
    print(f"\n未通过 {len(failed)} 个：" + ", ".join(c["id"] for c in failed[:60]) + (" …" if len(failed) > 60 else ""))
    if failures:
        print(f"门禁未通过（{len(failures)} 项），例如：")
        for f in failures[:15]:
            print("  - " + f)
    else:
        print("门禁通过")
