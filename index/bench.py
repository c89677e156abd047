"""Search benchmark: warm query latency, build time (cold / up to date / one document changed), and a scale curve
with the corpus replicated to 10k and 100k chunks.

Replicas reuse the stored vectors (plus small noise, renormalised) and the stored token lists (with a few tokens
dropped), so 100k chunks are never re-embedded. Query latency is end to end (jieba, e5 query embedding, BM25,
Chroma HNSW, fusion). Writes bench/report/search-bench.json and .md (git-ignored).

    policy-assistant index bench [--sizes 10000,100000]
    from index.bench import run_search_bench   # used by `policy-assistant bench`
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from policy_assistant.settings import REPO_ROOT

REPORT_DIR = REPO_ROOT / "bench" / "report"
TARGET_P95_MS = 100.0
VECTOR_NOISE = 0.02  # std of the noise added to replicated vectors (cosine to the original ≈ 0.99)
TOKEN_DROP = 0.05  # share of tokens dropped from a replicated chunk


def _percentiles(values_s: Sequence[float]) -> dict[str, float]:
    ms = np.array(values_s) * 1000
    return {"n": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "max_ms": round(float(ms.max()), 2)}


QUERIES_FILE = Path(__file__).resolve().parent.parent / "evals" / "retrieval_queries.yaml"


def bench_queries(path: Path = QUERIES_FILE) -> list[str]:
    """The retrieval queries (positives and negatives) as plain text; the data file is read directly so the index
    does not import the evals."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [q["query"] for q in data["queries"]] + [q["query"] for q in data.get("negatives") or []]


def time_queries(retriever, queries: Sequence[str], *, repeat: int = 3, warmup: int = 5, **search_kwargs) -> dict:
    """Warm latency of retriever.search over the queries (each repeated), with per-stage medians."""
    for q in queries[:warmup]:
        retriever.search(q, **search_kwargs)
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(repeat):
        for q in queries:
            started = time.perf_counter()
            result = retriever.search(q, **search_kwargs)
            totals.append(time.perf_counter() - started)
            for stage, ms in result.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
    out = _percentiles(totals)
    out["stages_p50_ms"] = {k: round(float(np.percentile(v, 50)), 2) for k, v in stages.items() if k != "total"}
    return out


def _latency_block(retriever, queries: Sequence[str], repeat: int) -> dict:
    return {
        "hybrid": time_queries(retriever, queries, repeat=repeat),
        "bm25": time_queries(retriever, queries, repeat=repeat, mode="bm25"),
        "dense": time_queries(retriever, queries, repeat=repeat, mode="dense"),
        "hybrid_region_filter": time_queries(retriever, queries, repeat=max(1, repeat // 2), region="厦门"),
        "hybrid_doc_filter": time_queries(retriever, queries, repeat=max(1, repeat // 2), doc_id="anhui"),
    }


# --- build times ------------------------------------------------------------------------------------------------------
def measure_builds(settings) -> dict:
    """Cold build in an empty data dir, then up to date, then one small document added (only it is embedded)."""
    from index.build import build_index

    tmp = Path(tempfile.mkdtemp(prefix="pa-bench-build-"))
    try:
        s = settings.model_copy(update={"data_dir": tmp, "chroma_mode": "persistent"})
        cold = build_index(s, progress=False)
        noop = build_index(s, progress=False)
        doc = {"id": "bench-extra", "title": "基准测试用补充通知", "region": "厦门市", "level": "city",
               "effective_from": "2025-01-01", "effective_to": "2027-12-31"}
        clauses = [{"id": "bench-extra:art1", "doc_id": "bench-extra", "labels": ["第一条"], "kind": "body",
                    "text": "对购买算力服务的企业给予测试性补助。"},
                   {"id": "bench-extra:art2", "doc_id": "bench-extra", "labels": ["第二条"], "kind": "body",
                    "text": "本通知仅用于基准测试。"}]
        incremental = build_index(s, progress=False, extra_clauses=clauses, extra_documents=[doc])
        return {
            "cold_s": round(cold.seconds, 2), "cold_embedded": cold.embedded, "chunks": cold.chunks,
            "up_to_date_s": round(noop.seconds, 3),
            "one_doc_changed_s": round(incremental.seconds, 2), "one_doc_changed_embedded": incremental.embedded,
            "embed_rate_chunks_per_s": round(cold.embedded / cold.seconds, 1) if cold.seconds else None,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- scale curve ------------------------------------------------------------------------------------------------------
def replicate(chunks, vectors: np.ndarray, tokens: Sequence[Sequence[str]], size: int, seed: int = 0):
    """`size` chunks: the originals, then copies with ids "<id>~r<n>", noisy vectors and a few tokens dropped.
    Copies keep their document (filters keep their share) but are distinct clauses."""
    import dataclasses

    rng = np.random.default_rng(seed)
    n0 = len(chunks)
    out_chunks, out_tokens, rows = [], [], []
    for i in range(size):
        base, copy = i % n0, i // n0
        c = chunks[base]
        if copy == 0:
            out_chunks.append(c)
            out_tokens.append(list(tokens[base]))
        else:
            out_chunks.append(dataclasses.replace(c, id=f"{c.id}~r{copy}", clause_id=f"{c.clause_id}~r{copy}", order=i))
            toks = list(tokens[base])
            keep = rng.random(len(toks)) >= TOKEN_DROP
            out_tokens.append([t for t, k in zip(toks, keep) if k] or toks)
        rows.append(base)
    replicated = vectors[np.array(rows)].copy()
    noise = rng.standard_normal(replicated.shape).astype(np.float32) * VECTOR_NOISE
    noise[:n0] = 0.0
    replicated += noise
    replicated /= np.linalg.norm(replicated, axis=1, keepdims=True)
    return out_chunks, replicated.astype(np.float32), out_tokens


def scale_point(settings, base_retriever, size: int, queries: Sequence[str], repeat: int, log=print) -> dict:
    """Build a replicated index of `size` chunks in a temp dir and time warm queries against it."""
    from index.build import write_build_files
    from index.retriever import HybridRetriever
    from index.store import ChromaStore, client_for, forget_client

    build_dir = Path(tempfile.mkdtemp(prefix=f"pa-bench-{size}-"))
    s = settings.model_copy(update={"data_dir": build_dir, "chroma_mode": "persistent"})
    try:
        base_dir = base_retriever.build_dir
        vectors = np.load(base_dir / "vectors.npy")
        tokens = [base_retriever.tokenizer.tokens(c.indexed_text) for c in base_retriever.chunks]
        chunks, vecs, toks = replicate(base_retriever.chunks, vectors, tokens, size)
        started = time.perf_counter()
        log(f"  写入 {size} 个条款块（BM25 + Chroma）…")
        write_build_files(s, build_dir, "bench", chunks, vecs, toks, base_retriever.embedder, progress=False)
        write_s = time.perf_counter() - started
        manifest = dict(base_retriever.manifest, build_id=f"bench-{size}", chunks=size)

        def store_factory():
            return ChromaStore.open(client_for(s, build_dir / "chroma"), s.collection, base_retriever.embedder)

        started = time.perf_counter()
        retriever = HybridRetriever(s, build_dir, manifest, chunks, base_retriever.embedder, base_retriever.tokenizer,
                                    store_factory=store_factory)
        retriever.warm_up()
        open_s = time.perf_counter() - started
        log(f"  计时 {len(queries)} 个问题 × {repeat} …")
        point = {"chunks": size, "write_s": round(write_s, 1), "open_s": round(open_s, 2)}
        point.update(_latency_block(retriever, queries, repeat))
        # how often the replicated index still ranks an original gold clause first (sanity, not quality)
        return point
    finally:
        forget_client(s, build_dir / "chroma")
        shutil.rmtree(build_dir, ignore_errors=True)


# --- report -----------------------------------------------------------------------------------------------------------
def markdown(report: dict) -> str:
    lines = [f"# 检索基准（{report['generated_at']}）", "",
             f"机器：{report['machine']['cpus']} 核，{report['machine']['platform']}；嵌入模型 {report['embedder']}；"
             f"问题 {report['queries']} 个 × 重复 {report['repeat']} 次（预热后）。", ""]
    if report.get("build"):
        b = report["build"]
        lines += ["## 构建时间", "", "| 情形 | 用时 | 新计算向量 |", "|---|---|---|",
                  f"| 冷启动（空目录，{b['chunks']} 块） | {b['cold_s']} s | {b['cold_embedded']} |",
                  f"| 语料未变化 | {b['up_to_date_s']} s | 0 |",
                  f"| 新增/修改一个文件 | {b['one_doc_changed_s']} s | {b['one_doc_changed_embedded']} |", ""]
    lines += ["## 查询延迟（热，端到端，毫秒）", "",
              "| 条款块 | 混合 p50 | 混合 p95 | 仅BM25 p50/p95 | 仅向量 p50/p95 | 地区筛选 p95 | 文件筛选 p95 | 目标 p95 ≤ 100 |",
              "|---|---|---|---|---|---|---|---|"]
    for point in report["points"]:
        h = point["hybrid"]
        ok = "✓" if h["p95_ms"] <= TARGET_P95_MS else "✗"
        lines.append(f"| {point['chunks']} | {h['p50_ms']} | {h['p95_ms']} | {point['bm25']['p50_ms']} / "
                     f"{point['bm25']['p95_ms']} | {point['dense']['p50_ms']} / {point['dense']['p95_ms']} | "
                     f"{point['hybrid_region_filter']['p95_ms']} | {point['hybrid_doc_filter']['p95_ms']} | {ok} |")
    lines += ["", "混合检索各阶段中位数（毫秒）：", ""]
    for point in report["points"]:
        stages = "，".join(f"{k} {v}" for k, v in point["hybrid"]["stages_p50_ms"].items())
        extra = f"；写入 {point['write_s']} s" if "write_s" in point else ""
        lines.append(f"- {point['chunks']} 块：{stages}{extra}；打开 {point.get('open_s', '—')} s")
    return "\n".join(lines) + "\n"


def run_search_bench(settings, *, sizes: Sequence[int] = (10_000, 100_000), repeat: int = 3,
                     measure_build: bool = True, out_dir: Path = REPORT_DIR, log=print) -> dict[str, Any]:
    """Run the benchmark for `settings` (served index; built if missing) and write the report files."""
    from index import open_retriever

    queries = bench_queries()
    started = time.perf_counter()
    retriever = open_retriever(settings)
    open_s = time.perf_counter() - started
    retriever.warm_up()
    report: dict[str, Any] = {
        "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "embedder": retriever.manifest["embedder_key"], "queries": len(queries), "repeat": repeat,
        "target_p95_ms": TARGET_P95_MS,
    }
    if measure_build:
        log("· 构建时间（冷/未变化/增量）…")
        report["build"] = measure_builds(settings)
    log(f"· 语料规模（{len(retriever.chunks)} 块）查询延迟…")
    base = {"chunks": len(retriever.chunks), "open_s": round(open_s, 2)}
    base.update(_latency_block(retriever, queries, repeat))
    report["points"] = [base]
    for size in sizes:
        log(f"· 规模 {size} 块…")
        report["points"].append(scale_point(settings, retriever, size, queries, repeat, log=log))
    report["markdown"] = markdown(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": str(out_dir / "search-bench.json"), "markdown": str(out_dir / "search-bench.md")}
    Path(paths["json"]).write_text(json.dumps({k: v for k, v in report.items() if k != "markdown"}, ensure_ascii=False,
                                              indent=2), encoding="utf-8")
    Path(paths["markdown"]).write_text(report["markdown"], encoding="utf-8")
    report["paths"] = paths
    return report
