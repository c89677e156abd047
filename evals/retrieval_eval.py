"""Retrieval eval: recall@1/3/5 and MRR for BM25 alone, dense alone and hybrid, on the tune and frozen test splits,
plus how often the "nothing relevant" decision fires on answerable and on out-of-scope questions.

    python -m evals.retrieval_eval                 # table for the served index (built if missing)
    python -m evals.retrieval_eval --failures      # also list queries whose gold clause is not in the top 5
    python -m evals.retrieval_eval --calibrate     # refit the relevance decision on the tune split only
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from corpus.yamlio import load_yaml

QUERIES_FILE = Path(__file__).with_name("retrieval_queries.yaml")
MODES = ("bm25", "dense", "hybrid")
SPLITS = ("tune", "test")
KS = (1, 3, 5)


def load_queries(path: Path = QUERIES_FILE) -> tuple[list[dict], list[dict]]:
    data = load_yaml(path.read_text(encoding="utf-8"))
    return list(data["queries"]), list(data.get("negatives") or [])


def _rank(ids: list[str], gold: list[str]) -> int | None:
    for i, clause_id in enumerate(ids, start=1):
        if clause_id in gold:
            return i
    return None


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    out: dict[str, float] = {"n": n}
    for k in KS:
        out[f"recall@{k}"] = sum(1 for r in ranks if r is not None and r <= k) / n if n else 0.0
    out["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n if n else 0.0
    return out


def run_retrieval_eval(settings=None, *, retriever=None, k: int = 5, queries_file: Path = QUERIES_FILE) -> dict[str, Any]:
    """Run every query through the three modes. Returns metrics per mode and split, relevance-decision rates,
    and the per-query ranks (for failure listings)."""
    if retriever is None:
        from index import open_retriever
        from policy_assistant.settings import Settings

        retriever = open_retriever(settings or Settings.from_env())
    positives, negatives = load_queries(queries_file)
    per_query: list[dict[str, Any]] = []
    for q in positives:
        row: dict[str, Any] = {"id": q["id"], "split": q["split"], "query": q["query"], "gold": q["gold"]}
        for mode in MODES:
            result = retriever.search(q["query"], k=k, mode=mode)
            row[mode] = _rank(result.ids, q["gold"])
            row[f"{mode}_top"] = result.ids[:3]
            if mode == "hybrid":
                row["no_relevant"] = result.no_relevant
                row["relevance"] = result.relevance
        per_query.append(row)
    negative_rows = []
    for q in negatives:
        result = retriever.search(q["query"], k=k)
        negative_rows.append({"id": q["id"], "split": q["split"], "query": q["query"], "no_relevant": result.no_relevant,
                              "relevance": result.relevance, "top": result.ids[:3], "reason": result.reason})

    report: dict[str, Any] = {"modes": {}, "no_relevant": {}, "index": {
        "build_id": retriever.build_id, "embedder": retriever.manifest["embedder_key"],
        "chunks": retriever.manifest["chunks"]}}
    for mode in MODES:
        report["modes"][mode] = {}
        for split in (*SPLITS, "all"):
            rows = [r for r in per_query if split == "all" or r["split"] == split]
            report["modes"][mode][split] = _metrics([r[mode] for r in rows])
    for split in (*SPLITS, "all"):
        pos = [r for r in per_query if split == "all" or r["split"] == split]
        neg = [r for r in negative_rows if split == "all" or r["split"] == split]
        report["no_relevant"][split] = {
            "positives": len(pos),
            "positives_flagged": sum(r["no_relevant"] for r in pos),
            "negatives": len(neg),
            "negatives_flagged": sum(r["no_relevant"] for r in neg),
        }
    report["queries"] = per_query
    report["negatives"] = negative_rows
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = ["| split | mode | n | recall@1 | recall@3 | recall@5 | MRR |", "|---|---|---|---|---|---|---|"]
    for split in (*SPLITS, "all"):
        for mode in MODES:
            m = report["modes"][mode][split]
            lines.append(f"| {split} | {mode} | {m['n']} | {m['recall@1']:.3f} | {m['recall@3']:.3f} | "
                         f"{m['recall@5']:.3f} | {m['mrr']:.3f} |")
    lines += ["", "| split | answerable flagged no_relevant | out-of-scope flagged no_relevant |", "|---|---|---|"]
    for split in (*SPLITS, "all"):
        r = report["no_relevant"][split]
        lines.append(f"| {split} | {r['positives_flagged']}/{r['positives']} | {r['negatives_flagged']}/{r['negatives']} |")
    return "\n".join(lines)


def failures(report: dict[str, Any], mode: str = "hybrid", k: int = 5, split: str = "tune") -> list[str]:
    """Misses of one split (default: tune only, so the frozen test split is not looked at while tuning)."""
    out = []
    for r in report["queries"]:
        if split != "all" and r["split"] != split:
            continue
        if r[mode] is None or r[mode] > k or r["no_relevant"]:
            out.append(f"{r['id']} [{r['split']}] {r['query']}  gold={r['gold']}  bm25={r['bm25']} dense={r['dense']} "
                       f"hybrid={r['hybrid']} top={r['hybrid_top']} no_rel={r['no_relevant']} p={r['relevance']:.2f}")
    for r in report["negatives"]:
        if split != "all" and r["split"] != split:
            continue
        if not r["no_relevant"]:
            out.append(f"{r['id']} [{r['split']}] NEG {r['query']}  top={r['top']} p={r['relevance']:.2f}")
    return out


# --- calibration of the relevance decision (tune split only) ---------------------------------------------------
def calibrate(retriever, *, queries_file: Path = QUERIES_FILE, write: bool = True, target_recall: float = 0.99) -> dict:
    """Fit the logistic relevance model on tune-split positives and negatives; pick the threshold that keeps at
    least `target_recall` of answerable tune questions, and write it to index/calibration.yaml."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from index.relevance import CALIBRATION_FILE, FEATURES, uncovered_places

    positives, negatives = load_queries(queries_file)
    rows, labels = [], []
    for q, label in [(q, 1) for q in positives if q["split"] == "tune"] + [(q, 0) for q in negatives if q["split"] == "tune"]:
        if label == 0 and uncovered_places(q["query"], retriever.covered):
            continue  # decided by the place check, not by the model
        evidence = retriever.evidence(q["query"])
        rows.append(evidence.vector())
        labels.append(label)
    X, y = np.array(rows), np.array(labels)
    # fit on standardised features (dense similarities span a few hundredths), then fold the scaling back in
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit((X - mean) / std, y)
    coef = model.coef_[0] / std
    intercept = float(model.intercept_[0] - (model.coef_[0] * mean / std).sum())
    probs = 1.0 / (1.0 + np.exp(-(X @ coef + intercept)))
    pos_probs = np.sort(probs[y == 1])
    cut = pos_probs[int(np.floor((1 - target_recall) * len(pos_probs)))]
    neg_max_below = probs[(y == 0) & (probs < cut)]
    threshold = float((cut + (neg_max_below.max() if neg_max_below.size else 0.0)) / 2)
    entry = {
        "intercept": round(intercept, 4),
        "coef": {f: round(float(c), 4) for f, c in zip(FEATURES, coef)},
        "threshold": round(threshold, 4),
        "source": f"evals/retrieval_eval.py --calibrate on the tune split ({int(y.sum())} answerable, "
                  f"{int((1 - y).sum())} out-of-scope)",
    }
    if write:
        data = {}
        if CALIBRATION_FILE.exists():
            data = load_yaml(CALIBRATION_FILE.read_text(encoding="utf-8")) or {}
        data[retriever.embedder.key] = entry
        header = ("# Relevance-decision calibration per embedding model (written by evals/retrieval_eval.py --calibrate;\n"
                  "# fitted on the tune split only). Features: dense_top, coverage, bm25_top (index/relevance.py).\n")
        CALIBRATION_FILE.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.retrieval_eval", description="检索评测")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--failures", action="store_true", help="list queries missed by hybrid@5")
    parser.add_argument("--failures-split", default="tune", choices=["tune", "test", "all"],
                        help="which split's misses to list (default tune: keep the test split frozen)")
    parser.add_argument("--calibrate", action="store_true", help="refit the relevance decision on the tune split")
    args = parser.parse_args(argv)

    from index import open_retriever
    from policy_assistant.settings import Settings

    retriever = open_retriever(Settings.from_env())
    if args.calibrate:
        entry = calibrate(retriever)
        print(f"calibration written: {entry}", file=sys.stderr)
        retriever = open_retriever(Settings.from_env())
    report = run_retrieval_eval(retriever=retriever)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(markdown(report))
        if args.failures:
            print()
            print("\n".join(failures(report, split=args.failures_split)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
