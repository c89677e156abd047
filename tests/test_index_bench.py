"""The search benchmark's machinery (replication without re-embedding, report files) on the hash embedder."""
from __future__ import annotations

import json

import numpy as np

from index.bench import TOKEN_DROP, replicate, run_search_bench
from index.testing import built_index


def test_replicate_keeps_documents_and_perturbs_vectors():
    from index import open_retriever

    retriever = open_retriever(built_index("hash"))
    vectors = np.load(retriever.build_dir / "vectors.npy")
    tokens = [retriever.tokenizer.tokens(c.indexed_text) for c in retriever.chunks]
    n0 = len(retriever.chunks)
    chunks, vecs, toks = replicate(retriever.chunks, vectors, tokens, 3 * n0 + 5)
    assert len(chunks) == len(vecs) == len(toks) == 3 * n0 + 5
    assert len({c.id for c in chunks}) == len(chunks)
    assert chunks[:n0] == list(retriever.chunks) and np.allclose(vecs[:n0], vectors, atol=1e-6)
    copy = chunks[n0 + 7]
    assert copy.id == f"{retriever.chunks[7].id}~r1" and copy.doc_id == retriever.chunks[7].doc_id
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    cos = float(vecs[n0 + 7] @ vectors[7])
    assert 0.9 < cos < 0.99999
    dropped = sum(len(tokens[i % n0]) - len(toks[i]) for i in range(n0, len(toks)))
    assert 0 < dropped < 3 * TOKEN_DROP * sum(len(t) for t in toks[n0:])


def test_bench_writes_json_and_markdown(tmp_path):
    report = run_search_bench(built_index("hash"), sizes=[300], repeat=1, measure_build=False, out_dir=tmp_path,
                              log=lambda *_: None)
    assert [p["chunks"] for p in report["points"]][1] == 300
    for point in report["points"]:
        for key in ("hybrid", "bm25", "dense", "hybrid_region_filter", "hybrid_doc_filter"):
            assert point[key]["p50_ms"] <= point[key]["p95_ms"]
    data = json.loads((tmp_path / "search-bench.json").read_text(encoding="utf-8"))
    assert data["points"][0]["hybrid"]["n"] == data["queries"]
    assert "查询延迟" in (tmp_path / "search-bench.md").read_text(encoding="utf-8")
