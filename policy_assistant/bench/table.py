"""The headline table: what was measured today (before this work) and now, side by side, with the ratio of the
two and the ratio of each throughput to the hello-world ceiling measured in the same run. Also writes it into
README.md between the `bench:start` / `bench:end` markers (`policy-assistant bench --readme`)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def _n(x: float | None, nd: int = 0) -> str:
    if x is None:
        return "—"
    return f"{x:.{nd}f}"


def _levels(load: dict, kind: str, field: str, levels: list[int], nd: int = 0) -> str:
    return " / ".join(_n((load.get(kind, {}).get(str(c)) or {}).get(field), nd) for c in levels)


def _ratio(new: float | None, old: float | None) -> str:
    if not new or not old:
        return "—"
    return f"×{new / old:.2f}"


def _level_ratios(new: dict, old: dict, kind: str, levels: list[int]) -> str:
    parts = []
    for c in levels:
        a = (new.get(kind, {}).get(str(c)) or {}).get("rps")
        b = (old.get(kind, {}).get(str(c)) or {}).get("rps")
        parts.append(_ratio(a, b))
    return " / ".join(parts)


def _of_ceiling(load: dict, kind: str, ceiling: dict, levels: list[int]) -> str:
    parts = []
    for c in levels:
        a = (load.get(kind, {}).get(str(c)) or {}).get("rps")
        b = (ceiling.get(str(c)) or {}).get("rps")
        parts.append(f"{100 * a / b:.0f}%" if a and b else "—")
    return " / ".join(parts)


def _errors(load: dict) -> int:
    return sum(v.get("errors", 0) for kind in load.values() for v in kind.values())


def render(data: dict[str, Any]) -> str:
    """Markdown: the headline table and the notes a reader needs to trust it."""
    meta = data["meta"]
    levels = list(meta["levels"])
    new = data["figures"]["new"]
    if "today" in data["figures"]:
        today, today_ceiling, today_dense = data["figures"]["today"], data["ceiling"]["today"], data.get("dense")
        source = f"今天：改动前的代码（{meta.get('baseline_commit', '--baseline-tree')}）在同一次运行中交替实测"
    else:
        rec = data.get("today") or {}
        today, today_ceiling, today_dense = rec.get("figures") or {}, rec.get("ceiling") or {}, rec.get("dense")
        source = (f"今天：记录值（提交 {rec.get('commit', '?')}，{rec.get('measured', '?')}，同一套测量程序；"
                  f"{rec.get('note', '')}）") if rec else "今天：无记录"
    new_ceiling = data["ceiling"]["new"]
    nl, tl = new.get("load", {}), today.get("load", {})
    lv = "/".join(str(c) for c in levels)
    workers = meta["workers"]
    rw, rl = new.get("rss_warm") or {}, new.get("rss_load") or {}
    trw, trl = today.get("rss_warm") or {}, today.get("rss_load") or {}
    dense = data.get("dense") or {}
    cpu_level = 10 if 10 in levels else levels[-1]
    rows = [
        (f"`/api/chat` 未见过的问题，并发 {lv}：req/s", _levels(tl, "unseen", "rps", levels),
         _levels(nl, "unseen", "rps", levels), _level_ratios(nl, tl, "unseen", levels), "并发 10 ≥ 200，0 错误"),
        ("　同上 p95 ms", _levels(tl, "unseen", "p95_ms", levels), _levels(nl, "unseen", "p95_ms", levels), "", ""),
        ("　同上 占 hello-world 天花板", _of_ceiling(tl, "unseen", today_ceiling, levels),
         _of_ceiling(nl, "unseen", new_ceiling, levels), "", ""),
        (f"同上，重复问题集（{len(_load_questions())} 个问题循环）：req/s", _levels(tl, "repeated", "rps", levels),
         _levels(nl, "repeated", "rps", levels), _level_ratios(nl, tl, "repeated", levels), "≥ 400"),
        ("　同上 占 hello-world 天花板", _of_ceiling(tl, "repeated", today_ceiling, levels),
         _of_ceiling(nl, "repeated", new_ceiling, levels), "", ""),
        (f"hello-world FastAPI 天花板（同一栈；今天 {meta.get('baseline_workers') or 1} 个进程，本次 {workers} 个）：req/s",
         " / ".join(_n((today_ceiling.get(str(c)) or {}).get("rps")) for c in levels),
         " / ".join(_n((new_ceiling.get(str(c)) or {}).get("rps")) for c in levels), "", ""),
        (f"服务端 CPU ms/请求，并发 {cpu_level}：未见过 / 重复 / hello-world",
         _cpu(tl, today_ceiling, cpu_level), _cpu(nl, new_ceiling, cpu_level), "", ""),
        (f"　{meta.get('cpus') or 1} 核只给本服务和压测客户端时的上限（{meta.get('cpus') or 1}000 ÷ 服务端与客户端 CPU ms）"
         "：未见过 req/s",
         _bound(tl, cpu_level, meta.get("cpus")), _bound(nl, cpu_level, meta.get("cpus")), "", "≥ 200"),
        (f"　压测期间其他进程占用的 CPU（未见过，并发 {cpu_level}）", _others(tl, cpu_level), _others(nl, cpu_level),
         "", ""),
        ("需要检索的未见过问题（进程内，未缓存）：p50 ms（其中查询编码 ms）",
         f"{_n(today.get('retrieval_p50_ms'), 1)}（{_n(today.get('encode_p50_ms'), 1)}）",
         f"{_n(new.get('retrieval_p50_ms'), 1)}（{_n(new.get('encode_p50_ms'), 1)}）",
         _ratio(new.get("retrieval_p50_ms"), today.get("retrieval_p50_ms")), ""),
        ("　同上 p95 ms", _n(today.get("retrieval_p95_ms"), 1), _n(new.get("retrieval_p95_ms"), 1),
         _ratio(new.get("retrieval_p95_ms"), today.get("retrieval_p95_ms")), "≤ 50"),
        ("　同上 再问一次（查询向量已缓存）p50 ms", _n(today.get("cached_p50_ms"), 1), _n(new.get("cached_p50_ms"), 1),
         "", ""),
        ("　检索中跳过查询编码的比例", _pct(today.get("encodes_skipped_share")), _pct(new.get("encodes_skipped_share")),
         "", ""),
        ("全部未见过问题（进程内）p50 / p95 ms", f"{_n(today.get('all_p50_ms'), 1)} / {_n(today.get('all_p95_ms'), 1)}",
         f"{_n(new.get('all_p50_ms'), 1)} / {_n(new.get('all_p95_ms'), 1)}",
         _ratio(new.get("all_p50_ms"), today.get("all_p50_ms")), ""),
        ("`serve` 就绪后第一个需检索的回答 ms", _n(today.get("first_answer_ms")), _n(new.get("first_answer_ms")),
         _ratio(new.get("first_answer_ms"), today.get("first_answer_ms")), "≤ 100"),
        ("一次性 `ask`（需检索）s", _n(today.get("oneshot_retrieval_s"), 2), _n(new.get("oneshot_retrieval_s"), 2),
         _ratio(new.get("oneshot_retrieval_s"), today.get("oneshot_retrieval_s")), "≤ 0.5"),
        ("一次性 `ask`（不需检索）s", _n(today.get("oneshot_plain_s"), 2), _n(new.get("oneshot_plain_s"), 2),
         _ratio(new.get("oneshot_plain_s"), today.get("oneshot_plain_s")), "≤ 0.3"),
        (f"向量检索 {dense.get('vectors', '—')} 个向量：今天 Chroma HNSW，本次精确 numpy（ms/次）",
         _n((today_dense or dense).get("hnsw_ms"), 3), _n(dense.get("exact_ms"), 3),
         _ratio(dense.get("exact_ms"), (today_dense or dense).get("hnsw_ms")),
         f"前 10 一致 {dense.get('identical_top10', '—')}/{dense.get('queries', '—')}"),
        ("服务内存 每个工作进程：预热后 / 压测后 MB", f"{_n(trw.get('max_rss_mb'))} / {_n(trl.get('max_rss_mb'))}",
         f"{_n(rw.get('max_rss_mb'))} / {_n(rl.get('max_rss_mb'))}", "", "≤ 300"),
        ("压测错误（全部轮次）", str(_errors(tl)) if tl else "—", str(_errors(nl)), "", "0"),
    ]
    lines = ["| 项目 | 今天 | 本次 | 本次/今天 | 目标 |", "|---|---:|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    q = data.get("quality")
    if q:
        t = q["test"]
        lines.append(f"| 检索质量（冻结测试集，混合）recall@1 / @5 / MRR | 0.939 / 1.000 / 0.970 | "
                     f"{t['recall@1']:.3f} / {t['recall@5']:.3f} / {t['mrr']:.3f} | | recall@5 1.00，MRR ≥ 0.96 |")
        nr = q.get("no_relevant") or {}
        if nr.get("queries"):
            lines.append(f"| 　检索评测问题（冻结测试集）中跳过查询编码的比例 | 0% | "
                         f"{100 * nr['dense_skipped'] / nr['queries']:.0f}% | | 排名与“无相关”判断不变 |")
    load = " → ".join("/".join(str(x) for x in v) for v in (meta.get("load_before"), meta.get("load_after")) if v)
    notes = [
        "",
        f"- {source}；本次：{meta['generated']}，{meta['cpus']} 核，本次服务 {workers} 个工作进程，"
        f"每档 {meta['duration_s']} 秒 × {meta['rounds']} 轮交替取中位数；系统负载（1/5/15 分钟）{load or '—'}。",
        "- 压测客户端：asyncio 直连 HTTP/1.1 长连接（与服务同机，共用 CPU）；“未见过的问题”由 evals/loadgen.py 按"
        "地区 × 项目/事实说法 × 金额 × 句式生成，每个请求一个新问题，服务端任何缓存都命不中。",
        "- 重复问题集：同一个开场问题问到第三次起，由智能体从上一次的回答与会话记忆复制作答（按问题、日期与索引版本区分）；"
        "未见过的问题每个只问一次，永远命不中。",
        "- CPU：压测每档前后读取服务各工作进程、压测客户端（本进程）与整机（/proc/stat）的 CPU 时间，按请求数折算；"
        "“上限”假设所有核全部只给本服务和客户端。",
        "- 进程内时延：每轮一个新进程（预热后），每个问题只问一次；“需要检索”指回答中调用了检索。",
        "- 性能目标只由本基准衡量，测试中不做计时断言。",
    ]
    return "\n".join(lines + notes) + "\n"


def _at(load: dict, kind: str, level: int) -> dict:
    return load.get(kind, {}).get(str(level)) or {}


def _cpu(load: dict, ceiling: dict, level: int) -> str:
    """Server CPU ms per request: never-seen / repeated / the hello-world ceiling."""
    values = [_at(load, "unseen", level).get("server_cpu_ms"), _at(load, "repeated", level).get("server_cpu_ms"),
              (ceiling.get(str(level)) or {}).get("server_cpu_ms")]
    return " / ".join(_n(v, 2) for v in values) if any(v is not None for v in values) else "—"


def _bound(load: dict, level: int, cpus: int | None) -> str:
    """req/s the machine's cores could serve if nothing else ran: cores × 1000 / (server + client CPU ms)."""
    at = _at(load, "unseen", level)
    server, client = at.get("server_cpu_ms"), at.get("client_cpu_ms")
    return _n((cpus or 1) * 1000 / (server + client)) if server and client is not None else "—"


def _others(load: dict, level: int) -> str:
    return _pct(_at(load, "unseen", level).get("others_share"))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _load_questions() -> list[str]:
    from ui.examples import LOAD_QUESTIONS

    return list(LOAD_QUESTIONS)


def update_readme(readme: Path, table: str) -> bool:
    """Replace the text between the bench markers in README.md; False when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        return False
    readme.write_text(pattern.sub(lambda _: f"{README_START}\n{table}{README_END}", text), encoding="utf-8")
    return True
