"""The per-phase benchmark (`policy-assistant bench --detail`; the headline is policy_assistant/bench/headline.py):
one bounded run that measures, side by side,

- index build time: cold (empty data dir, every chunk embedded), no-op (up to date) and incremental (one document
  added: only its chunks are embedded);
- warm search latency p50/p95: hybrid vs BM25-only, over the eval questions;
- warm answer latency p50/p95 of the offline agent: hybrid retrieval vs a BM25-only baseline retriever;
- API throughput and latency at 1/10/50 concurrent clients against a real server subprocess on loopback
  (ui/loadtest.py);
- peak memory: this process (ru_maxrss), Python allocations while answering (tracemalloc), the server (VmHWM).

Writes bench/report/bench.json, bench.md and bench.png (git-ignored). Every phase is bounded in time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from policy_assistant.bench import BENCH_DIR
from policy_assistant.settings import REPO_ROOT


def _pct(values: Sequence[float], q: float) -> float | None:
    from evals.metrics import percentile

    return percentile(list(values), q)


def _lat(values: Sequence[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": _r(_pct(values, 50)), "p95_ms": _r(_pct(values, 95)),
            "mean_ms": _r(sum(values) / len(values)) if values else None, "max_ms": _r(max(values)) if values else None}


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


def _maxrss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024.0, 1)  # Linux: kilobytes


def bench_questions(limit: int) -> list[tuple[str, Any]]:
    """(question, as_of) of single-turn gold cases (no 10k-character inputs), in file order, at most `limit`."""
    from evals.runner import load_cases

    out = []
    for case in load_cases():
        if case.multiturn or case.fixture:
            continue
        q = case.turns[0].question
        if 0 < len(q.strip()) <= 500:
            out.append((q, case.as_of))
    return out[:limit]


class _ModeRetriever:
    """Wraps the hybrid retriever so every search uses one mode (the BM25-only baseline for answers)."""

    def __init__(self, inner, mode: str):
        self._inner, self._mode = inner, mode

    def search(self, *args, **kwargs):
        kwargs["mode"] = self._mode
        return self._inner.search(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _time_calls(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


# --- phases ----------------------------------------------------------------------------------------------------------

def bench_build(settings, workdir: Path, *, cold: bool = True) -> dict[str, Any]:
    """Cold build into an empty data dir, a no-op rebuild, then an incremental build that adds one document."""
    from index import build_index

    from evals.runner import FIXTURES_DIR

    out: dict[str, Any] = {}
    cold_settings = settings.model_copy(update={"data_dir": workdir / "cold"})
    if not cold:  # reuse the served index's vector cache: measures everything but embedding
        src = Path(settings.index_dir) / "cache"
        if src.is_dir():
            shutil.copytree(src, Path(cold_settings.index_dir) / "cache")
    t0 = time.perf_counter()
    report = build_index(cold_settings, progress=False)
    out["cold"] = {"seconds": _r(time.perf_counter() - t0, 3), "chunks": report.chunks, "embedded": report.embedded,
                   "vector_cache": "empty" if cold else "seeded"}
    t0 = time.perf_counter()
    report = build_index(cold_settings, progress=False)
    out["noop"] = {"seconds": _r(time.perf_counter() - t0, 3), "rebuilt": report.built}
    t0 = time.perf_counter()
    report = build_index(cold_settings, progress=False, extra_corpus_dir=str(FIXTURES_DIR / "poisoned"))
    out["incremental"] = {"seconds": _r(time.perf_counter() - t0, 3), "chunks": report.chunks, "embedded": report.embedded,
                          "reused": report.reused, "changed_docs": report.changed_docs}
    return out


def bench_search(retriever, questions: Sequence[str], repeat: int, *, quality: bool = False,
                 budget_s: float = 45.0) -> dict[str, Any]:
    """Warm search latency per mode; each mode stops after `budget_s` seconds (n says how many were timed)."""
    out: dict[str, Any] = {}
    for q in questions[:5]:  # warm both paths
        retriever.search(q, k=5, mode="hybrid")
        retriever.search(q, k=5, mode="bm25")
    for mode in ("hybrid", "bm25"):
        lat: list[float] = []
        t_end = time.perf_counter() + budget_s
        for q in questions:
            lat.extend(_time_calls(lambda: retriever.search(q, k=5, mode=mode), repeat))
            if time.perf_counter() > t_end:
                break
        out[mode] = _lat(lat)
    if not quality:
        return out
    try:
        from evals.retrieval_eval import run_retrieval_eval

        quality = run_retrieval_eval(retriever=retriever)
        for mode in ("hybrid", "bm25"):
            m = quality["modes"][mode]["all"]
            out[mode].update({"recall@1": _r(m["recall@1"], 3), "recall@5": _r(m["recall@5"], 3), "mrr": _r(m["mrr"], 3)})
    except Exception as exc:  # quality is a bonus here; latency is the point
        out["quality_error"] = str(exc)[:200]
    return out


def run_index_bench(settings, sizes: Sequence[int], repeat: int, log: Callable[[str], None]) -> dict | None:
    """The index author's search benchmark (index/bench.py), when present: reused for the search part's
    scale curve. Returns its report (without the Markdown) or None when the module is not there."""
    try:
        from index.bench import run_search_bench
    except ImportError:
        return None
    log(f"· index/bench.py 检索基准（规模 {list(sizes) or '—'}）…")
    try:
        report = run_search_bench(settings, sizes=list(sizes), repeat=repeat, measure_build=False)
    except Exception as exc:  # the shared benchmark must not sink this one
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    if not isinstance(report, dict):
        return {"result": str(report)[:2000]}
    return {k: v for k, v in report.items() if k not in ("paths",)}


def bench_answers(settings, retriever, questions: Sequence[tuple[str, Any]], repeat: int,
                  budget_s: float = 45.0) -> dict[str, Any]:
    """Warm answer latency of the offline agent, hybrid retrieval vs a BM25-only retriever; tracemalloc peak."""
    import tracemalloc
    import uuid

    from agent import build_assistant

    from evals.runner import offline_settings

    off = offline_settings(settings)
    out: dict[str, Any] = {}
    for label, mode in (("hybrid", "hybrid"), ("bm25", "bm25")):
        wrapped = retriever if mode == "hybrid" else _ModeRetriever(retriever, mode)
        assistant = build_assistant(off, retriever_factory=lambda w=wrapped: w)
        for q, as_of in questions[:5]:
            assistant.ask(q, session_id=f"bench-warm-{uuid.uuid4().hex[:6]}", as_of=as_of)
        lat: list[float] = []
        t_end = time.perf_counter() + budget_s
        for q, as_of in questions:
            if time.perf_counter() > t_end:
                break
            for _ in range(repeat):
                sid = f"bench-{uuid.uuid4().hex[:8]}"
                t0 = time.perf_counter()
                assistant.ask(q, session_id=sid, as_of=as_of)
                lat.append((time.perf_counter() - t0) * 1000.0)
        out[label] = _lat(lat)
        if label == "hybrid":
            tracemalloc.start()
            for q, as_of in questions[:40]:
                assistant.ask(q, session_id=f"bench-mem-{uuid.uuid4().hex[:6]}", as_of=as_of)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out["tracemalloc_peak_mb_40_answers"] = _r(peak / 2**20, 2)
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


def bench_api(settings, concurrencies: Sequence[int], duration_s: float, questions: Sequence[str],
              startup_timeout_s: float = 120.0) -> dict[str, Any]:
    """Start `policy-assistant serve --no-ui` as a subprocess on a free loopback port; run ui/loadtest at each level."""
    from ui.loadtest import run as loadtest

    port = _free_port()
    env = {**os.environ, "POLICY_DATA_DIR": str(settings.data_dir), "POLICY_EMBEDDER": settings.embedder,
           "POLICY_RATE_LIMIT_PER_MINUTE": str(10**9), "POLICY_LLM_BASE_URL": "", "POLICY_HOST": "127.0.0.1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "policy_assistant", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    log_path = Path(tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1])
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(REPO_ROOT))
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"url": url, "server_pid": proc.pid}
    try:
        import httpx

        ready = False
        while time.perf_counter() - t0 < startup_timeout_s and proc.poll() is None:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    ready = True
                    break
            except Exception:
                time.sleep(0.2)
        if not ready:
            out["error"] = "服务未在限定时间内启动：" + log_path.read_text(encoding="utf-8")[-800:]
            return out
        out["startup_s"] = _r(time.perf_counter() - t0, 2)
        # first answer through the API (loads the agent and the retriever in the server)
        t1 = time.perf_counter()
        httpx.post(url + "/api/chat", json={"question": "厦门算力券买了80万能补多少"}, timeout=120)
        out["first_answer_s"] = _r(time.perf_counter() - t1, 3)
        out["levels"] = loadtest(url, concurrencies=concurrencies, duration_s=duration_s, max_requests=20000,
                                 questions=list(questions))
        out["server_peak_rss_mb"] = _vm_hwm_mb(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log_path.unlink(missing_ok=True)
    return out


# --- report ----------------------------------------------------------------------------------------------------------

def render_markdown(data: dict[str, Any]) -> str:
    m = data["meta"]
    lines = [
        "# 政策通 性能基准",
        "",
        f"- 时间 {m['generated']}；CPU {m['cpus']} 核；Python {m['python']}；嵌入模型 {m['embedder']}；总用时 {m['total_s']} 秒",
        f"- 复现：`make bench`（或 `policy-assistant bench`）；结果写入 bench/report/",
        "",
        "| 项目 | 指标 | 数值 |",
        "|---|---|---:|",
    ]
    b = data.get("build") or {}
    if "cold" in b:
        lines.append(f"| 索引构建 冷启动（{b['cold']['chunks']} 块，嵌入 {b['cold']['embedded']}，向量缓存{'空' if b['cold']['vector_cache'] == 'empty' else '预置'}） | 秒 | {b['cold']['seconds']} |")
        lines.append(f"| 索引构建 无变化重跑 | 秒 | {b['noop']['seconds']} |")
        lines.append(f"| 索引构建 增量（新增 1 个文件，嵌入 {b['incremental']['embedded']} 块，复用 {b['incremental']['reused']}） | 秒 | {b['incremental']['seconds']} |")
    s = data.get("search") or {}
    for mode, label in (("hybrid", "混合检索"), ("bm25", "仅 BM25")):
        if mode in s:
            r = s[mode]
            lines.append(f"| 检索 {label}（热，k=5，n={r['n']}） | p50 / p95 ms | {r['p50_ms']} / {r['p95_ms']} |")
            if "recall@5" in r:
                lines.append(f"| 检索 {label} | recall@1 / recall@5 / MRR | {r['recall@1']} / {r['recall@5']} / {r['mrr']} |")
    a = data.get("answers") or {}
    for mode, label in (("hybrid", "混合检索"), ("bm25", "仅 BM25 基线")):
        if mode in a:
            r = a[mode]
            lines.append(f"| 离线问答 {label}（热，n={r['n']}） | p50 / p95 ms | {r['p50_ms']} / {r['p95_ms']} |")
    if a.get("tracemalloc_peak_mb_40_answers") is not None:
        lines.append(f"| 问答 Python 分配峰值（tracemalloc，40 问） | MB | {a['tracemalloc_peak_mb_40_answers']} |")
    api = data.get("api") or {}
    if api.get("levels"):
        lines.append(f"| API 服务启动（子进程，至 /healthz 就绪） | 秒 | {api.get('startup_s')} |")
        lines.append(f"| API 首次问答（加载模型与索引） | 秒 | {api.get('first_answer_s')} |")
        for lv in api["levels"]:
            lines.append(f"| API /api/chat 并发 {lv['concurrency']}（{lv['seconds']} 秒，{lv['requests']} 次，错误 {lv['errors']}） | req/s；p50 / p95 ms | "
                         f"{lv['rps']}；{lv['p50_ms']} / {lv['p95_ms']} |")
    elif api.get("error"):
        lines.append(f"| API | 错误 | {api['error'][:120]} |")
    ib = data.get("index_bench") or {}
    mem = data.get("memory") or {}
    lines.append(f"| 内存峰值 基准进程（ru_maxrss） | MB | {mem.get('bench_process_maxrss_mb')} |")
    if api.get("server_peak_rss_mb") is not None:
        lines.append(f"| 内存峰值 API 服务进程（VmHWM） | MB | {api['server_peak_rss_mb']} |")
    if ib.get("markdown"):
        lines += ["", "## 检索基准（index/bench.py）", "", str(ib["markdown"])]
    elif ib.get("error"):
        lines += ["", f"index/bench.py 未能运行：{ib['error']}"]
    return "\n".join(lines) + "\n"


def render_chart(data: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # pragma: no cover
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    s, a = data.get("search") or {}, data.get("answers") or {}
    groups = [("search", s), ("answer", a)]
    labels, p50, p95 = [], [], []
    for name, d in groups:
        for mode in ("hybrid", "bm25"):
            if mode in d:
                labels.append(f"{name}\n{mode}")
                p50.append(d[mode]["p50_ms"] or 0)
                p95.append(d[mode]["p95_ms"] or 0)
    xs = range(len(labels))
    axes[0].bar([x - 0.2 for x in xs], p50, 0.4, label="p50", color="#999999")
    axes[0].bar([x + 0.2 for x in xs], p95, 0.4, label="p95", color="#d8703b")
    axes[0].set_xticks(list(xs), labels)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("ms (log)")
    axes[0].set_title("Warm latency: hybrid vs BM25-only")
    axes[0].legend()
    levels = (data.get("api") or {}).get("levels") or []
    if levels:
        conc = [str(lv["concurrency"]) for lv in levels]
        axes[1].bar(conc, [lv["rps"] for lv in levels], color="#3b7dd8")
        axes[1].set_xlabel("concurrent clients")
        axes[1].set_ylabel("requests / s")
        axes[1].set_title("API /api/chat throughput (loopback)")
        ax2 = axes[1].twinx()
        ax2.plot(conc, [lv["p95_ms"] for lv in levels], "o-", color="#d8703b", label="p95 ms")
        ax2.set_ylabel("p95 ms")
    b = data.get("build") or {}
    if "cold" in b:
        names = ["cold", "no-op", "incremental"]
        secs = [b["cold"]["seconds"], b["noop"]["seconds"], b["incremental"]["seconds"]]
        axes[2].bar(names, secs, color=["#49a36b", "#bbbbbb", "#8cc7a0"])
        axes[2].set_ylabel("seconds")
        axes[2].set_title("Index build")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- entry ------------------------------------------------------------------------------------------------------------

def run_bench(*, settings=None, out_dir: Path = BENCH_DIR, concurrencies: Sequence[int] = (1, 10, 50),
              duration_s: float = 6.0, n_questions: int = 150, repeat: int = 2, cold_build: bool = True,
              api: bool = True, quality: bool = False, scale: Sequence[int] = (),
              log: Callable[[str], None] = print) -> dict[str, Any]:
    from evals.runner import build_index, offline_settings
    from index import open_retriever

    started = time.perf_counter()
    settings = offline_settings(settings)
    questions = bench_questions(n_questions)
    data: dict[str, Any] = {"meta": {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(), "cpus": os.cpu_count(),
        "platform": platform.platform(), "embedder": settings.embedder, "questions": len(questions), "repeat": repeat,
    }}
    with tempfile.TemporaryDirectory(prefix="pa-bench-") as tmp:
        log("· 索引构建（冷启动 / 无变化 / 增量）…")
        data["build"] = bench_build(settings, Path(tmp), cold=cold_build)
        log(f"  冷启动 {data['build']['cold']['seconds']} 秒，增量 {data['build']['incremental']['seconds']} 秒")
    log("· 确认服务索引 …")
    build_index(settings)
    retriever = open_retriever(settings)
    if hasattr(retriever, "warm_up"):
        retriever.warm_up()
    log("· 检索时延（混合 vs 仅BM25）…")
    data["search"] = bench_search(retriever, [q for q, _ in questions], repeat, quality=quality)
    index_bench = run_index_bench(settings, scale, repeat, log) if scale else None
    if index_bench is not None:
        data["index_bench"] = index_bench
    log("· 离线问答时延（混合 vs 仅BM25）…")
    data["answers"] = bench_answers(settings, retriever, questions, repeat)
    data["memory"] = {"bench_process_maxrss_mb": _maxrss_mb()}
    if api:
        log(f"· API 压测（并发 {list(concurrencies)}，每档 {duration_s} 秒）…")
        data["api"] = bench_api(settings, concurrencies, duration_s, [q for q, _ in questions[:60]])
    data["memory"]["bench_process_maxrss_mb"] = _maxrss_mb()
    data["meta"]["total_s"] = _r(time.perf_counter() - started, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out_dir / "bench.md").write_text(render_markdown(data), encoding="utf-8")
    render_chart(data, out_dir / "bench.png")
    return data


def _run_reliability(args: argparse.Namespace) -> int:
    from policy_assistant.reliability import report

    data = report.run(code_dir=args.against, quick=args.quick, log=lambda s: print(s, file=sys.stderr, flush=True))
    before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else None
    name = "reliability-before" if args.against else "reliability"
    out_dir = args.out if not args.against else args.out / name
    md = report.write(out_dir, data, before)
    print(md.read_text(encoding="utf-8"))
    print(f"结果：{out_dir / 'reliability.json'}  {md}")
    return 0
