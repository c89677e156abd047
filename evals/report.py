"""Eval report: report.json, summary.md (per-stratum table), chart.png, and a diff against evals/baseline.json.

Also the gate logic shared by `policy-assistant eval --check` and tests/test_eval_gate.py: hard rules (no wrong
amount, no answered must-refuse case, no untraceable number) plus the committed thresholds (evals/thresholds.yaml).
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import platform
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from corpus.yamlio import load_yaml

from evals.metrics import CaseScore, summarize
from evals.runner import EVALS_DIR, STRATA

REPORT_DIR = EVALS_DIR / "report"
BASELINE_PATH = EVALS_DIR / "baseline.json"
THRESHOLDS_PATH = EVALS_DIR / "thresholds.yaml"
FLOOR = {"amount_accuracy": 0.95, "status_accuracy": 0.95}  # thresholds may never be set below these

STRATUM_ZH = {
    "amount": "金额测算", "eligibility": "资格判断", "lookup": "条款查询", "validity": "时效与截止", "stacking": "叠加规则",
    "comparison": "跨地区比较", "multiturn": "多轮对话", "out_of_corpus": "库外问题", "no_amount": "未规定金额",
    "adversarial": "对抗与注入", "bad_input": "异常输入",
}


# --- building ----------------------------------------------------------------------------------------------------

def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(asdict(obj))
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def build_report(scores: Sequence[CaseScore], *, meta: Mapping[str, Any] | None = None,
                 retrieval: Any = None, judge: Any = None) -> dict[str, Any]:
    report = {
        "meta": {
            "generated": dt.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(),
            **(meta or {}),
        },
        "metrics": summarize(scores),
        "retrieval": _jsonable(retrieval) if retrieval is not None else None,
        "judge": _jsonable(judge) if judge is not None else None,
        "cases": [s.to_dict() for s in scores],
        "case_summary": {s.id: s.summary() for s in scores},
    }
    return report


# --- baseline + diff --------------------------------------------------------------------------------------------

def load_baseline(path: Path | str = BASELINE_PATH) -> dict | None:
    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def baseline_from_report(report: Mapping[str, Any]) -> dict:
    overall = report["metrics"]["overall"]
    return {
        "meta": {k: report["meta"].get(k) for k in ("agent", "split", "generated", "cases")},
        "overall": {k: overall[k] for k in sorted(overall)},
        "by_stratum": {st: {"case_accuracy": m["case_accuracy"], "cases": m["cases"]}
                       for st, m in report["metrics"]["by_stratum"].items()},
        "cases": copy.deepcopy(report["case_summary"]),
    }


def write_baseline(report: Mapping[str, Any], path: Path | str = BASELINE_PATH) -> Path:
    path = Path(path)
    data = _jsonable(baseline_from_report(report))
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def diff_against_baseline(report: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> dict[str, list]:
    """Every case that changed: pass→fail, fail→pass, amount changed, status changed, new, removed."""
    out: dict[str, list] = {"pass_to_fail": [], "fail_to_pass": [], "amount_changed": [], "status_changed": [],
                            "new": [], "removed": []}
    if not baseline:
        return out
    old_cases = baseline.get("cases", {})
    new_cases = report["case_summary"]
    for cid, new in new_cases.items():
        old = old_cases.get(cid)
        if old is None:
            out["new"].append({"id": cid, "pass": new["pass"]})
            continue
        if old["pass"] and not new["pass"]:
            out["pass_to_fail"].append({"id": cid, "failed": new["failed"]})
        elif not old["pass"] and new["pass"]:
            out["fail_to_pass"].append({"id": cid, "was_failing": old.get("failed", [])})
        if old.get("amount") != new["amount"]:
            out["amount_changed"].append({"id": cid, "before": old.get("amount"), "after": new["amount"]})
        if old.get("status") != new["status"]:
            out["status_changed"].append({"id": cid, "before": old.get("status"), "after": new["status"]})
    gold_ids = report["meta"].get("gold_ids")  # every case id in the gold set (a filtered run skips, not removes)
    if gold_ids is not None:
        for cid in old_cases:
            if cid not in set(gold_ids):
                out["removed"].append({"id": cid})
    return out


# --- gate --------------------------------------------------------------------------------------------------------

def load_thresholds(path: Path | str = THRESHOLDS_PATH) -> dict:
    path = Path(path)
    return load_yaml(path.read_text(encoding="utf-8")) if path.exists() else {}


def gate_failures(report: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None, *,
                  blind: bool = False) -> list[str]:
    """Why the gate fails ([] = pass). Hard rules always apply; thresholds never go below FLOOR.

    A blind split (`blind=True`) is gated at the level it achieved: no exception and no untraceable number are hard
    rules there too, while wrong amounts, refusals and forbidden figures count through their metrics
    (`amount_accuracy`, `refusal_accuracy`, `case_accuracy`: cases written blind are not all passed) and FLOOR does
    not apply."""
    thresholds = thresholds or {}
    overall = report["metrics"]["overall"]
    cases = report["cases"]
    failures: list[str] = []

    wrong = [c for c in cases if any(t["checks"].get("amount") is False or t["checks"].get("amounts") is False for t in c["turns"])]
    for c in ([] if blind else wrong):
        t = next(t for t in c["turns"] if t["checks"].get("amount") is False or t["checks"].get("amounts") is False)
        det = t["details"].get("amount") or t["details"].get("amounts")
        failures.append(f"金额错误 {c['id']}: {det}")
    for c in cases:
        if not blind and c["must_refuse"] and any(t["checks"].get("refusal") is False for t in c["turns"]):
            failures.append(f"应拒答却作答 {c['id']}: status={[t['status'] for t in c['turns']]}")
        for t in c["turns"]:
            if t["untraceable"]:
                failures.append(f"不可溯源数字 {c['id']}: {t['untraceable']}")
            if not blind and (t["checks"].get("forbid") is False or t["checks"].get("forbid_amounts") is False):
                failures.append(f"出现禁止内容 {c['id']}: {t['details'].get('forbid') or t['details'].get('forbid_amounts')}")
            if t["checks"].get("error") is False:
                failures.append(f"异常 {c['id']}: {str(t['details'].get('error'))[:200]}")

    offline = report["meta"].get("agent", "offline") == "offline"

    def check(scope: str, metrics: Mapping[str, Any], mins: Mapping[str, Any]) -> None:
        for name, minimum in (mins or {}).items():
            if name.startswith("latency") and not offline:
                continue  # latency thresholds are for the offline agent; an LLM's latency is the endpoint's
            if name.endswith("_max"):
                key = name[:-4]
                value = metrics.get(key)
                if value is not None and value > minimum:
                    failures.append(f"{scope}.{key} = {value:.4g} > 上限 {minimum}")
                continue
            floor = float(minimum) if blind else max(float(minimum), FLOOR.get(name, 0.0))
            value = metrics.get(name)
            if value is None:
                continue
            if value + 1e-12 < floor:
                failures.append(f"{scope}.{name} = {value:.4f} < 阈值 {floor:.4f}")

    floors = {} if blind else dict(FLOOR)
    check("overall", overall, {**floors, **(thresholds.get("overall") or {})})
    for stratum, mins in (thresholds.get("by_stratum") or {}).items():
        metrics = report["metrics"]["by_stratum"].get(stratum)
        if metrics:
            check(stratum, metrics, mins)
    return failures


# --- writing -----------------------------------------------------------------------------------------------------

def _fmt(value: Any, kind: str = "pct") -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "ms":
        return f"{value:.1f}"
    return str(value)


METRIC_COLUMNS = [
    ("case_accuracy", "通过率", "pct"), ("amount_accuracy", "金额", "pct"), ("status_accuracy", "状态", "pct"),
    ("eligibility_accuracy", "资格", "pct"), ("citation_precision", "引用P", "pct"), ("citation_recall", "引用R", "pct"),
    ("phrase_hit_rate", "要点", "pct"), ("refusal_accuracy", "拒答", "pct"), ("false_refusal_rate", "误拒", "pct"),
    ("numeric_faithfulness", "数字可溯源", "pct"), ("latency_p50_ms", "p50 ms", "ms"), ("latency_p95_ms", "p95 ms", "ms"),
]


def metrics_table(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    head = "| 分层 | 用例 | " + " | ".join(label for _, label, _ in METRIC_COLUMNS) + " |"
    sep = "|---|---:|" + "---:|" * len(METRIC_COLUMNS)
    lines = [head, sep]
    for name, m in rows:
        cells = [_fmt(m.get(key), kind) for key, _, kind in METRIC_COLUMNS]
        lines.append(f"| {name} | {m['cases']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


def render_summary(report: Mapping[str, Any], diff: Mapping[str, list] | None = None,
                   gate: Sequence[str] | None = None) -> str:
    meta, metrics = report["meta"], report["metrics"]
    lines = [
        "# 政策通 评测报告",
        "",
        f"- 生成时间：{meta.get('generated')}；智能体：{meta.get('agent', 'offline')}；数据划分：{meta.get('split', 'all')}",
        f"- 用例 {metrics['overall']['cases']} 个（{metrics['overall']['turns']} 轮）；问答日期默认 2026-11-22，按用例设定",
        "",
        "## 分层结果",
        "",
        metrics_table([(f"{st} {STRATUM_ZH.get(st, '')}", m) for st, m in metrics["by_stratum"].items()]
                      + [("**总体**", metrics["overall"])]),
        "",
        "## 按数据划分（frozen 从不用于调参）",
        "",
        metrics_table(list(metrics["by_split"].items())),
        "",
        "## 硬指标",
        "",
        f"- 金额错误：{metrics['overall']['amount_wrong']} / {metrics['overall']['amount_n']}",
        f"- 应拒答却作答：{metrics['overall']['must_refuse_answered']} / {metrics['overall']['refusal_n']}",
        f"- 不可溯源数字：{metrics['overall']['untraceable']} / {metrics['overall']['figures']}",
        f"- 出现禁止内容：{metrics['overall']['forbidden_hits']}；异常：{metrics['overall']['errors']}",
    ]
    retrieval = report.get("retrieval")
    if retrieval:
        lines += ["", "## 检索（evals/retrieval_eval.py）", ""]
        if isinstance(retrieval, Mapping) and "modes" in retrieval:
            lines += ["| 划分 | 方式 | n | recall@1 | recall@3 | recall@5 | MRR |", "|---|---|---:|---:|---:|---:|---:|"]
            for mode, splits in retrieval["modes"].items():
                for split, r in splits.items():
                    lines.append(f"| {split} | {mode} | {r.get('n')} | {r.get('recall@1', 0):.3f} | {r.get('recall@3', 0):.3f} | "
                                 f"{r.get('recall@5', 0):.3f} | {r.get('mrr', 0):.3f} |")
        else:
            lines += ["```json", json.dumps(_retrieval_brief(retrieval), ensure_ascii=False, indent=1), "```"]
    if report.get("judge"):
        lines += ["", "## LLM 评审（仅 LLM 模式，非必需）", "", "```json", json.dumps(report["judge"], ensure_ascii=False, indent=1), "```"]
    if gate is not None:
        lines += ["", "## 门禁", ""]
        lines += ["- 通过"] if not gate else [f"- ✗ {g}" for g in gate]
    failed = [c for c in report["cases"] if not c["pass"]]
    lines += ["", f"## 未通过用例（{len(failed)}）", ""]
    if failed:
        lines += ["| 用例 | 分层 | 划分 | 未通过检查 | 详情 |", "|---|---|---|---|---|"]
        for c in failed:
            details = {}
            for t in c["turns"]:
                details.update({k: v for k, v in t["details"].items() if k in c["failed"]})
            lines.append(f"| {c['id']} | {c['stratum']} | {c['split']} | {', '.join(c['failed'])} | "
                         f"{_short(details).replace('|', '/')} |")
    if diff is not None:
        lines += ["", "## 与基线对比（evals/baseline.json）", ""]
        total = sum(len(v) for v in diff.values())
        if total == 0:
            lines.append("- 无变化")
        for key, label in (("pass_to_fail", "通过→失败"), ("fail_to_pass", "失败→通过"), ("amount_changed", "金额变化"),
                           ("status_changed", "状态变化"), ("new", "新增用例"), ("removed", "删除用例")):
            for item in diff.get(key, []):
                lines.append(f"- {label} {item['id']}: {_short({k: v for k, v in item.items() if k != 'id'})}")
    return "\n".join(lines) + "\n"


def _retrieval_brief(retrieval: Any) -> Any:
    if isinstance(retrieval, Mapping):
        return {k: v for k, v in retrieval.items() if k not in ("queries", "negatives", "per_query", "details", "results")}
    return retrieval


def render_chart(report: Mapping[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import font_manager
    except Exception:  # pragma: no cover - matplotlib is a dependency; never fail the eval on a chart
        return None
    by = report["metrics"]["by_stratum"]
    names = list(by)
    acc = [(by[n]["case_accuracy"] or 0) * 100 for n in names]
    amount = [(by[n]["amount_accuracy"] * 100) if by[n]["amount_accuracy"] is not None else 0 for n in names]
    p50 = [by[n]["latency_p50_ms"] or 0 for n in names]
    p95 = [by[n]["latency_p95_ms"] or 0 for n in names]
    cjk = [f.name for f in font_manager.fontManager.ttflist if any(k in f.name for k in ("CJK", "Hei", "Song", "WenQuanYi", "Noto Sans SC"))]
    labels = [f"{n}\n{STRATUM_ZH.get(n, '')}" if cjk else n for n in names]
    if cjk:
        plt.rcParams["font.sans-serif"] = [cjk[0], "DejaVu Sans"]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 8), constrained_layout=True)
    xs = range(len(names))
    w = 0.4
    ax1.bar([x - w / 2 for x in xs], acc, w, label="case pass rate", color="#3b7dd8")
    ax1.bar([x + w / 2 for x in xs], amount, w, label="amount exact match", color="#49a36b")
    ax1.set_ylim(0, 105)
    ax1.set_ylabel("%")
    ax1.set_xticks(list(xs), labels, fontsize=8)
    ax1.set_title(f"Accuracy per stratum (agent={report['meta'].get('agent', 'offline')}, n={report['metrics']['overall']['cases']})")
    ax1.legend(loc="lower left", fontsize=8)
    for x, v in zip(xs, acc):
        ax1.text(x - w / 2, v + 1, f"{v:.0f}", ha="center", fontsize=7)
    ax2.bar([x - w / 2 for x in xs], p50, w, label="p50", color="#999999")
    ax2.bar([x + w / 2 for x in xs], p95, w, label="p95", color="#d8703b")
    ax2.set_yscale("log")
    ax2.set_ylabel("ms per answer (log)")
    ax2.set_xticks(list(xs), labels, fontsize=8)
    ax2.set_title("Answer latency per stratum")
    ax2.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(report: Mapping[str, Any], out_dir: Path | str = REPORT_DIR, *,
                 baseline: Mapping[str, Any] | None = None, thresholds: Mapping[str, Any] | None = None) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    diff = diff_against_baseline(report, baseline) if baseline is not None else None
    gate = gate_failures(report, thresholds) if thresholds is not None else None
    full = {**report, "baseline_diff": diff, "gate_failures": gate}
    paths = {"json": out / "report.json", "summary": out / "summary.md", "chart": out / "chart.png", "diff": out / "diff.json"}
    paths["json"].write_text(json.dumps(_jsonable(full), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    paths["summary"].write_text(render_summary(report, diff, gate), encoding="utf-8")
    paths["diff"].write_text(json.dumps(_jsonable(diff), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if render_chart(report, paths["chart"]) is None:
        paths.pop("chart")
    return paths
