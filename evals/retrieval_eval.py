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
MODES = ("bm25", "dense", "hybrid", "hybrid_embed")  # hybrid_embed: hybrid that always embeds the query
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
            if mode == "hybrid_embed":
                result = retriever.search(q["query"], k=k, mode="hybrid", allow_skip=False)
            else:
                result = retriever.search(q["query"], k=k, mode=mode)
            row[mode] = _rank(result.ids, q["gold"])
            row[f"{mode}_top"] = result.ids[:3]
            if mode == "hybrid":
                row["no_relevant"] = result.no_relevant
                row["relevance"] = result.relevance
                row["dense_skipped"] = result.dense_skipped
            if mode == "hybrid_embed":
                row["no_relevant_embed"] = result.no_relevant
        per_query.append(row)
    negative_rows = []
    for q in negatives:
        result = retriever.search(q["query"], k=k)
        embed = retriever.search(q["query"], k=k, allow_skip=False)
        negative_rows.append({"id": q["id"], "split": q["split"], "query": q["query"], "no_relevant": result.no_relevant,
                              "relevance": result.relevance, "top": result.ids[:3], "reason": result.reason,
                              "dense_skipped": result.dense_skipped, "no_relevant_embed": embed.no_relevant})

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
            "positives_flagged_embed": sum(r["no_relevant_embed"] for r in pos),
            "negatives_flagged_embed": sum(r["no_relevant_embed"] for r in neg),
            "dense_skipped": sum(r["dense_skipped"] for r in pos + neg),
            "queries": len(pos) + len(neg),
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
    lines += ["", "| split | answerable flagged no_relevant (always embedding) | out-of-scope flagged no_relevant "
                  "(always embedding) | queries not embedded (dense skipped) |", "|---|---|---|---|"]
    for split in (*SPLITS, "all"):
        r = report["no_relevant"][split]
        lines.append(f"| {split} | {r['positives_flagged']}/{r['positives']} ({r['positives_flagged_embed']}) | "
                     f"{r['negatives_flagged']}/{r['negatives']} ({r['negatives_flagged_embed']}) | "
                     f"{r['dense_skipped']}/{r['queries']} |")
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

    from index.relevance import FEATURES, uncovered_places

    positives, negatives = load_queries(queries_file)
    rows, labels = [], []
    for q, label in [(q, 1) for q in positives if q["split"] == "tune"] + [(q, 0) for q in negatives if q["split"] == "tune"]:
        if label == 0 and uncovered_places(q["query"], retriever.covered):
            continue  # decided by the place check, not by the model
        evidence = retriever.evidence(q["query"])
        rows.append(evidence.vector())
        labels.append(label)
    y = np.array(labels)
    # fit on standardised features (dense similarities span a few hundredths), then fold the scaling back in
    coef, intercept, threshold = _fit_logistic(rows, labels, target_recall)
    entry = {
        "intercept": round(intercept, 4),
        "coef": {f: round(float(c), 4) for f, c in zip(FEATURES, coef)},
        "threshold": round(threshold, 4),
        "source": f"evals/retrieval_eval.py --calibrate on the tune split ({int(y.sum())} answerable, "
                  f"{int((1 - y).sum())} out-of-scope)",
    }
    if write:
        _write_calibration(retriever.embedder.key, entry)
    return entry


def _write_calibration(embedder_key: str, entry: dict) -> None:
    """Replace the relevance model of one embedder (keeping its dense-skip rule unless `entry` has one)."""
    from index.relevance import CALIBRATION_FILE

    data = {}
    if CALIBRATION_FILE.exists():
        data = load_yaml(CALIBRATION_FILE.read_text(encoding="utf-8")) or {}
    old = data.get(embedder_key) or {}
    if "dense_skip" in old and "dense_skip" not in entry:
        entry = {**entry, "dense_skip": old["dense_skip"]}
    data[embedder_key] = entry
    header = ("# Relevance-decision calibration per embedding model (written by evals/retrieval_eval.py --calibrate;\n"
              "# fitted on the tune split only). Features: dense_top, coverage, bm25_top (index/relevance.py).\n"
              "# dense_skip: when BM25 is decisive the query is not embedded (--calibrate-skip, tune split only;\n"
              "# run it after --calibrate: it keeps every relevance decision of the full model on the tune split).\n")
    CALIBRATION_FILE.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")


def _fit_logistic(rows: list[list[float]], labels: list[int], target_recall: float):
    """(coef, intercept, threshold): balanced logistic regression on standardised features (scaling folded
    back), threshold keeping at least `target_recall` of the positives above it."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X, y = np.array(rows), np.array(labels)
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit((X - mean) / std, y)
    coef = model.coef_[0] / std
    intercept = float(model.intercept_[0] - (model.coef_[0] * mean / std).sum())
    probs = 1.0 / (1.0 + np.exp(-(X @ coef + intercept)))
    pos_probs = np.sort(probs[y == 1])
    cut = pos_probs[int(np.floor((1 - target_recall) * len(pos_probs)))]
    neg_max_below = probs[(y == 0) & (probs < cut)]
    threshold = float((cut + (neg_max_below.max() if neg_max_below.size else 0.0)) / 2)
    return coef, intercept, threshold


def calibrate_skip(retriever, *, queries_file: Path = QUERIES_FILE, write: bool = True,
                   target_recall: float = 0.99) -> dict:
    """Fit the dense-skip rule (index.relevance.DenseSkip) on the tune split only.

    1. A lexical relevance model (coverage, bm25_top; no dense feature) fitted like `calibrate`.
    2. For every tune query: BM25's lead (gap), the lexical probability, and the hybrid result with and without
       the dense side.
    3. The (min_gap, min_probability) pair that skips the most tune queries such that no skipped query changes
       its top clause or relevance decision or ranks its gold clause lower, and over the tune split recall@1,
       recall@5 and MRR are not lower than always embedding.
    """
    from index.relevance import CALIBRATION_FILE, Calibration, DenseSkip, bm25_gap, uncovered_places

    positives, negatives = load_queries(queries_file)
    tune = [(q, 1) for q in positives if q["split"] == "tune"] + \
           [(q, 0) for q in negatives if q["split"] == "tune" and not uncovered_places(q["query"], retriever.covered)]
    features, labels = [], []
    for q, label in tune:
        ev = retriever.evidence(q["query"])
        features.append([ev.coverage, ev.bm25_top])
        labels.append(label)
    coef, intercept, threshold = _fit_logistic(features, labels, target_recall)
    lexical = Calibration(intercept=intercept, coef=(0.0, float(coef[0]), float(coef[1])), threshold=threshold)

    saved = retriever.dense_skip
    rows = []
    try:
        for (q, label), feats in zip(tune, features):
            full = retriever.search(q["query"], k=5, allow_skip=False)
            retriever.dense_skip = DenseSkip(min_gap=0.0, min_probability=0.0, lexical=lexical)
            lean = retriever.search(q["query"], k=5)
            retriever.dense_skip = saved
            qt = retriever.tokenizer.query(q["query"])
            gap = bm25_gap(retriever._bm25_ranked(qt.weights(), None, 2))
            ev = retriever.evidence(q["query"])
            full_rank, lean_rank = _rank(full.ids, q.get("gold", [])), _rank(lean.ids, q.get("gold", []))
            rows.append({"label": label, "gap": gap, "p": lexical.probability(ev),
                         "full_rank": full_rank, "lean_rank": lean_rank,
                         # skipping may not move this query's answer: same top clause, same decision, gold no lower
                         "same": full.no_relevant == lean.no_relevant and full.ids[:1] == lean.ids[:1]
                                 and (lean_rank or 99) <= (full_rank or 99)})
    finally:
        retriever.dense_skip = saved

    def metrics(skipped: list[bool]) -> tuple[float, float, float]:
        ranks = [r["lean_rank"] if s else r["full_rank"] for r, s in zip(rows, skipped) if r["label"] == 1]
        m = _metrics(ranks)
        return m["recall@1"], m["recall@5"], m["mrr"]

    baseline = metrics([False] * len(rows))
    best: tuple | None = None
    gaps = sorted({round(r["gap"], 4) for r in rows} | {1.01})
    probs = sorted({round(r["p"], 4) for r in rows} | {1.01})
    for g in gaps:
        for pmin in probs:
            skipped = [r["gap"] >= g and r["p"] >= pmin for r in rows]
            if not all(r["same"] for r, s in zip(rows, skipped) if s):
                continue
            m = metrics(skipped)
            if any(a < b - 1e-12 for a, b in zip(m, baseline)):
                continue
            key = (sum(skipped), g, pmin)
            if best is None or key > best[0]:
                best = (key, g, pmin, m)
    assert best is not None  # min_gap above every gap skips nothing and always qualifies
    (count, _, _), min_gap, min_prob, m = best
    entry = {
        "tokenizer": retriever.manifest.get("tokenizer"),  # BM25's lead depends on the tokens: a new tokenizer disables the rule
        "min_gap": round(float(min_gap), 4),
        "min_probability": round(float(min_prob), 4),
        "lexical": {"intercept": round(intercept, 4),
                    "coef": {"coverage": round(float(coef[0]), 4), "bm25_top": round(float(coef[1]), 4)},
                    "threshold": round(threshold, 4)},
        "source": f"evals/retrieval_eval.py --calibrate-skip on the tune split: skips {count} of {len(rows)} tune "
                  f"queries; tune recall@1/@5/MRR {m[0]:.3f}/{m[1]:.3f}/{m[2]:.3f} (always embedding: "
                  f"{baseline[0]:.3f}/{baseline[1]:.3f}/{baseline[2]:.3f}); no skipped query changed its top clause "
                  f"or relevance decision",
    }
    if write:
        data = load_yaml(CALIBRATION_FILE.read_text(encoding="utf-8")) or {} if CALIBRATION_FILE.exists() else {}
        current = dict(data.get(retriever.embedder.key) or {})
        if not current:
            raise RuntimeError("calibrate the relevance model first (--calibrate)")
        current["dense_skip"] = entry
        _write_calibration(retriever.embedder.key, current)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.retrieval_eval", description="检索评测")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--failures", action="store_true", help="list queries missed by hybrid@5")
    parser.add_argument("--failures-split", default="tune", choices=["tune", "test", "all"],
                        help="which split's misses to list (default tune: keep the test split frozen)")
    parser.add_argument("--calibrate", action="store_true", help="refit the relevance decision on the tune split")
    parser.add_argument("--calibrate-skip", action="store_true",
                        help="refit the dense-skip rule on the tune split (after --calibrate)")
    args = parser.parse_args(argv)

    from index import open_retriever
    from policy_assistant.settings import Settings

    retriever = open_retriever(Settings.from_env())
    if args.calibrate:
        entry = calibrate(retriever)
        print(f"calibration written: {entry}", file=sys.stderr)
        retriever = open_retriever(Settings.from_env())
    if args.calibrate_skip:
        entry = calibrate_skip(retriever)
        print(f"dense-skip rule written: {entry}", file=sys.stderr)
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
