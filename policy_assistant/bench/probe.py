"""In-process answer latency of one source tree, run as a script in a fresh process:

    PYTHONPATH=<tree> python policy_assistant/bench/probe.py questions.json > result.json

It uses only what every version of the project has (`Services(Settings.from_env()).ask`, the retriever's `search`
and its `timings_ms`), so the benchmark can run the same probe against an older checkout and compare. Every
question is asked once in its own session (never seen: nothing is cached yet), then the ones that needed retrieval
are asked again (their query vectors are cached now): the uncached and cached figures are reported apart.
"""
from __future__ import annotations

import json
import sys
import time
import uuid


def main(path: str) -> int:
    from policy_assistant.services import Services
    from policy_assistant.settings import Settings

    spec = json.loads(open(path, encoding="utf-8").read())
    services = Services(Settings.from_env())
    warm = getattr(services, "warm_up", None)
    if callable(warm):
        warm()
    else:  # older trees: what their server warmed (the agent), plus the retriever
        services.assistant  # noqa: B018
        retriever = services.retriever
        if hasattr(retriever, "warm_up"):
            retriever.warm_up()
    for question in spec.get("warm", []):
        services.ask(question, session_id=f"warm-{uuid.uuid4().hex[:8]}")

    retriever = services.retriever
    calls: list = []
    search = retriever.search

    def traced(*args, **kwargs):
        result = search(*args, **kwargs)
        calls.append(result)
        return result

    retriever.search = traced
    rows = []
    for question in spec["questions"]:
        calls.clear()
        t0 = time.perf_counter()
        services.ask(question, session_id=f"probe-{uuid.uuid4().hex[:12]}")
        ms = (time.perf_counter() - t0) * 1000
        rows.append({"question": question, "ms": round(ms, 3), "searches": len(calls),
                     "embed_ms": round(sum(c.timings_ms.get("embed", 0.0) for c in calls), 3),
                     "embedded": sum(1 for c in calls if "embed" in c.timings_ms)})
    cached = []
    for row in rows:
        if row["searches"]:
            t0 = time.perf_counter()
            services.ask(row["question"], session_id=f"probe-{uuid.uuid4().hex[:12]}")
            cached.append(round((time.perf_counter() - t0) * 1000, 3))
    json.dump({"rows": rows, "cached_ms": cached}, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
