"""The headline benchmark (`make bench`): never-seen questions first, the repeated mix beside them, the
hello-world ceiling in the same run, today's figures beside the new ones.

Every figure is a median over interleaved rounds (servers measured in turn, one level at a time, so a burst of load
from elsewhere on the machine hits all of them alike). "Today" is either measured live from another checkout
(`--baseline-tree`, the same harness, interleaved with this tree) or read from the recorded baseline
(policy_assistant/bench/baseline.json: the same harness run against the commit before this work).
"""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from policy_assistant.settings import REPO_ROOT

BASELINE_FILE = Path(__file__).with_name("baseline.json")


def _median(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 2) if vals else None


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


class QuestionPool:
    """Never-seen questions handed out once each; separate streams per server keep each one's questions new."""

    def __init__(self, catalog, seed: int):
        from evals.loadgen import never_seen_questions

        self._stream = never_seen_questions(catalog, seed=seed)

    def take(self, n: int) -> list[str]:
        return [next(self._stream) for _ in range(n)]

    def source(self) -> Callable[[], str]:
        return lambda: next(self._stream)


def _summarise_probe(results: list[dict]) -> dict[str, Any]:
    """Medians over probe rounds of: p50/p95 of never-seen questions that searched, their encode time, p50 of all
    never-seen questions, cached p50, and the share of searches that skipped the encoder."""
    per_round = []
    for res in results:
        rows = res["rows"]
        searched = [r for r in rows if r["searches"]]
        ms = [r["ms"] for r in searched]
        searches = sum(r["searches"] for r in rows)
        embedded = sum(r["embedded"] for r in rows)
        per_round.append({
            "retrieval_p50_ms": _pct(ms, 0.5), "retrieval_p95_ms": _pct(ms, 0.95),
            "encode_p50_ms": _pct([r["embed_ms"] for r in searched], 0.5),
            "encode_share": (sum(r["embed_ms"] for r in searched) / sum(ms)) if ms else None,
            "all_p50_ms": _pct([r["ms"] for r in rows], 0.5), "all_p95_ms": _pct([r["ms"] for r in rows], 0.95),
            "cached_p50_ms": _pct(res["cached_ms"], 0.5),
            "searched_share": len(searched) / len(rows) if rows else None,
            "encodes_skipped_share": (1 - embedded / searches) if searches else None,
            "questions": len(rows),
        })
    return {k: _median([r[k] for r in per_round]) for k in per_round[0]} if per_round else {}


def _dense_store_compare(settings, repeat: int = 3) -> dict[str, Any]:
    """HNSW (Chroma, the store of record) vs exact numpy search over the served build's vectors: median ms per
    query over the retrieval eval's questions, and whether the top-10 agree."""
    from evals.retrieval_eval import load_queries
    from index import open_retriever
    from index.build import collection_name
    from index.store import ChromaStore, client_for
    from index.vector_store import ExactStore

    retriever = open_retriever(settings)
    exact = ExactStore.open(retriever.build_dir, retriever.chunks)
    chroma = ChromaStore.open(client_for(settings, retriever.build_dir / "chroma"),
                              collection_name(settings, retriever.build_id), retriever.embedder)
    positives, negatives = load_queries()
    vectors = [retriever.embedder.embed_query(q["query"]) for q in positives + negatives]
    same = sum([i for i, _ in exact.query(v, 10)] == [i for i, _ in chroma.query(v, 10)] for v in vectors)
    out: dict[str, Any] = {"vectors": exact.count(), "queries": len(vectors), "identical_top10": same}
    for name, store in (("hnsw", chroma), ("exact", exact)):
        for v in vectors[:10]:
            store.query(v, 50)
        times = []
        for _ in range(repeat):
            for v in vectors:
                t0 = time.perf_counter()
                store.query(v, 50)
                times.append((time.perf_counter() - t0) * 1000)
        out[f"{name}_ms"] = round(statistics.median(times), 3)
    return out


def serves_workers(tree: Path) -> bool:
    """Whether a source tree's `serve` has --workers (trees before issue 13 serve from one process)."""
    cli = Path(tree) / "ui" / "cli.py"
    return cli.exists() and '"--workers"' in cli.read_text(encoding="utf-8")


class CpuMeter:
    """CPU seconds spent during a load level: by the server's worker processes, by this process (the load client)
    and by the whole machine (/proc/stat), so a run can say how much of the machine the server got."""

    def __init__(self, pids: Sequence[int]):
        self.pids = list(pids)
        self.tick = os.sysconf("SC_CLK_TCK")

    def _proc(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self.tick
        except (OSError, IndexError, ValueError):
            return 0.0

    def _machine(self) -> tuple[float, float]:
        try:
            values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError):
            return 0.0, 0.0
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return (sum(values) - idle) / self.tick, sum(values) / self.tick

    def read(self) -> tuple[float, float, float, float]:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = self._machine()
        return sum(self._proc(p) for p in self.pids), usage.ru_utime + usage.ru_stime, busy, total

    @staticmethod
    def per_request(before: tuple, after: tuple, requests: int) -> dict[str, float | None]:
        """Server and client CPU ms per request, and the share of the machine's busy time spent by others."""
        server, client, busy, _ = (a - b for a, b in zip(after, before))
        if not requests:
            return {"server_cpu_ms": None, "client_cpu_ms": None, "others_share": None}
        others = max(0.0, busy - server - client)
        return {"server_cpu_ms": round(1000 * server / requests, 3), "client_cpu_ms": round(1000 * client / requests, 3),
                "others_share": round(others / busy, 3) if busy > 0 else None}


def run_headline(settings, *, baseline_tree: Path | None = None, baseline_data: Path | None = None,
                 workers: int = 2, baseline_workers: int | None = None, levels: Sequence[int] = (1, 10, 50),
                 duration_s: float = 4.0, rounds: int = 3, probe_questions: int = 150, oneshot_runs: int = 5,
                 quality: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure this tree (and `baseline_tree` when given) and return the figures; see the module docstring.

    The baseline serves with `baseline_workers` processes: by default as many as this tree when its `serve` has
    --workers, else one (then the ceiling is measured with one process for it too)."""
    from policy_assistant.bench import servers
    from policy_assistant.services import Services
    from ui.examples import LOAD_QUESTIONS
    from ui.loadtest import cycling, run_level

    started = time.perf_counter()
    catalog = Services(settings).catalog
    trees = {"new": REPO_ROOT}
    data_dirs = {"new": Path(settings.data_dir)}
    if baseline_tree is not None:
        trees["today"] = Path(baseline_tree)
        data_dirs["today"] = Path(baseline_data or Path(baseline_tree) / "data")
    if baseline_tree is not None and baseline_workers is None:
        baseline_workers = workers if serves_workers(Path(baseline_tree)) else 1
    out: dict[str, Any] = {"meta": {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(), "workers": workers,
        "baseline_workers": baseline_workers, "levels": list(levels), "duration_s": duration_s, "rounds": rounds,
        "load_before": load_average(), "baseline": "live" if baseline_tree else "recorded"}}
    figures: dict[str, dict[str, Any]] = {name: {} for name in trees}

    # 1. in-process latency of never-seen questions (fresh process per round, interleaved between trees)
    log(f"· 问答时延：每轮 {probe_questions} 个未见过的问题，{rounds} 轮交替 …")
    pool = QuestionPool(catalog, seed=1)
    warm = pool.take(5)
    probe_runs: dict[str, list[dict]] = {name: [] for name in trees}
    for r in range(rounds):
        questions = pool.take(probe_questions)
        for name in trees:
            probe_runs[name].append(servers.probe(trees[name], data_dirs[name], questions, warm))
    for name in trees:
        figures[name].update(_summarise_probe(probe_runs[name]))
    # questions that searched (new tree's classification; the agents route alike), for one-shots and first answers
    searched_q = [row["question"] for row in probe_runs["new"][0]["rows"] if row["searches"]]
    plain_q = [row["question"] for row in probe_runs["new"][0]["rows"] if not row["searches"]]

    # 2. one-shot commands, interleaved; the first run of each tree only writes bytecode and caches
    log(f"· 一次性 ask：{oneshot_runs} 次交替（需检索 / 不需检索）…")
    for name in trees:
        servers.oneshot_s(trees[name], data_dirs[name], warm[0])
    shots: dict[str, dict[str, list[float]]] = {name: {"retrieval": [], "plain": []} for name in trees}
    for i in range(oneshot_runs):
        for name in trees:
            shots[name]["retrieval"].append(servers.oneshot_s(trees[name], data_dirs[name], searched_q[i % len(searched_q)]))
            shots[name]["plain"].append(servers.oneshot_s(trees[name], data_dirs[name], plain_q[i % len(plain_q)]))
    for name in trees:
        figures[name]["oneshot_retrieval_s"] = _median(shots[name]["retrieval"])
        figures[name]["oneshot_plain_s"] = _median(shots[name]["plain"])

    # 3. servers: readiness, first retrieval answer, memory; then the load levels, interleaved
    log(f"· 启动服务（本次 {workers} 个工作进程{f'，今天 {baseline_workers} 个' if 'today' in trees else ''}）"
        "与 hello-world 天花板 …")
    running: dict[str, Any] = {}
    try:
        for name in trees:
            data = servers.private_data_dir(data_dirs[name], f"bench-{name}-")
            running[name] = servers.start_app(name, trees[name], data,
                                              workers=workers if name == "new" else baseline_workers)
            figures[name]["ready_s"] = running[name].started_s
            figures[name]["first_answer_ms"] = servers.first_answer_ms(running[name], searched_q[-1])
            figures[name]["rss_warm"] = running[name].rss_mb()
        running["hello"] = servers.start_hello("hello", workers=workers)
        if "today" in trees and baseline_workers != workers:
            running["hello_today"] = servers.start_hello("hello-1", workers=baseline_workers)

        streams = {name: QuestionPool(catalog, seed=100 + i).source() for i, name in enumerate(trees)}
        repeated = {name: cycling(list(LOAD_QUESTIONS)) for name in trees}
        targets: list[tuple[str, str, Callable[[], str]]] = []
        for name in trees:
            targets.append((name, "unseen", streams[name]))
            targets.append((name, "repeated", repeated[name]))
        targets.append(("hello", "hello", cycling(["你好"])))
        if "hello_today" in running:
            targets.append(("hello_today", "hello", cycling(["你好"])))
        meters = {server: CpuMeter(running[server].worker_pids()) for server, _, _ in targets}
        results: dict[tuple[str, str, int], list[dict]] = {}
        log(f"· 压测：并发 {list(levels)}，每档 {duration_s} 秒，{rounds} 轮交替 …")
        for r in range(rounds):
            for level in levels:
                for server, kind, source in targets:
                    before = meters[server].read()
                    res = run_level(running[server].url, level, duration_s=duration_s, max_requests=10**6,
                                    next_question=source, timeout_s=60)
                    res.update(CpuMeter.per_request(before, meters[server].read(), res["requests"]))
                    results.setdefault((server, kind, level), []).append(res)
            log(f"  第 {r + 1}/{rounds} 轮完成")
        load = {}
        for (server, kind, level), runs in results.items():
            load.setdefault(server, {}).setdefault(kind, {})[str(level)] = {
                "rps": _median([x["rps"] for x in runs]), "p50_ms": _median([x["p50_ms"] for x in runs]),
                "p95_ms": _median([x["p95_ms"] for x in runs]), "errors": sum(x["errors"] for x in runs),
                "requests": sum(x["requests"] for x in runs), "error_kinds": _merge_kinds(runs),
                **{k: _median([x[k] for x in runs]) for k in ("server_cpu_ms", "client_cpu_ms", "others_share")}}
        for name in trees:
            figures[name]["load"] = load.get(name, {})
            figures[name]["rss_load"] = running[name].rss_mb()
            if any(v["errors"] for kind in figures[name]["load"].values() for v in kind.values()):
                figures[name]["server_log_tail"] = running[name].log()  # why it failed (the log goes with the server)
        ceiling = load.get("hello", {}).get("hello", {})
        out["ceiling"] = {"new": ceiling, "today": load.get("hello_today", {}).get("hello", ceiling)}
    finally:
        for served in running.values():
            served.stop()

    # 4. the vector store over this build's vectors
    log("· 向量检索：Chroma HNSW 与精确 numpy …")
    out["dense"] = _dense_store_compare(settings)
    if quality:
        log("· 检索质量（冻结测试集）…")
        from evals.retrieval_eval import run_retrieval_eval
        from index import open_retriever

        report = run_retrieval_eval(retriever=open_retriever(settings))
        out["quality"] = {"test": report["modes"]["hybrid"]["test"], "no_relevant": report["no_relevant"]["test"]}
    out["figures"] = figures
    out["meta"]["load_after"] = load_average()
    out["meta"]["total_s"] = round(time.perf_counter() - started, 1)
    if "today" not in figures:
        out["today"] = json.loads(BASELINE_FILE.read_text(encoding="utf-8")) if BASELINE_FILE.exists() else None
    return out


def _merge_kinds(runs: list[dict]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for r in runs:
        for k, v in (r.get("error_kinds") or {}).items():
            kinds[k] = kinds.get(k, 0) + v
    return kinds


def record_baseline(data: dict[str, Any], *, commit: str, note: str = "") -> dict[str, Any]:
    """The "today" figures of a live run, in the shape BASELINE_FILE keeps (with where they came from)."""
    return {"commit": commit, "measured": data["meta"]["generated"], "note": note, "meta": data["meta"],
            "figures": data["figures"]["today"], "ceiling": data["ceiling"]["today"], "dense": data.get("dense")}
