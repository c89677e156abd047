"""The "nothing relevant" decision: tell the agent the corpus is silent instead of handing it the nearest noise.

Two checks, both data-driven:
1. Places. A question about a place no document covers (深圳, 北京…) is out of scope, whatever the wording.
2. Evidence. A logistic model over three features, fitted on the eval's tune split (evals/retrieval_eval.py
   --calibrate writes index/calibration.yaml): the best dense similarity, the share of the query's informative
   words found in the corpus (idf-weighted), and the best BM25 score per query word.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from corpus.yamlio import load_yaml

from corpus.places import Gazetteer, load_gazetteer, short_name  # noqa: F401  (short_name re-exported)

HERE = Path(__file__).parent
PLACES_FILE = HERE.parent / "corpus" / "lexicon" / "places.yaml"
CALIBRATION_FILE = HERE / "calibration.yaml"

QUESTION_WORDS_FILE = HERE / "question_words.txt"


@lru_cache(maxsize=1)
def question_words() -> frozenset[str]:
    """Words that neither count for nor against the corpus knowing a question's topic (see the file)."""
    lines = QUESTION_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def gazetteer() -> Gazetteer:
    return load_gazetteer(PLACES_FILE)


def covered_places(documents: Iterable[dict]) -> frozenset[str]:
    """Places the corpus speaks for: each document's region, and its province for province-level documents."""
    gaz = gazetteer()
    covered: set[str] = set()
    for doc in documents:
        for name in [doc["region"]] + ([doc["region_path"][0]] if doc["level"] == "province" else []):
            covered.add(gaz.canonical(name) or name)
    return frozenset(covered)


def uncovered_places(query: str, covered: frozenset[str]) -> list[str]:
    """Places named in the query none of which is (inside) a covered place; [] when any named place is covered."""
    gaz = gazetteer()
    named = gaz.mentioned(query)
    if not named:
        return []
    if any(any(a in covered for a in gaz.ancestors(p)) for p in named):
        return []
    return named


# --- evidence ---------------------------------------------------------------------------------------------------------
@dataclass
class Evidence:
    dense_top: float | None  # best cosine similarity among dense candidates (None without a dense side)
    coverage: float  # idf-weighted share of informative query words present in the corpus, 0..1
    bm25_top: float  # best BM25 score divided by the number of informative query words
    content_words: list[str] = field(default_factory=list)
    missing_words: list[str] = field(default_factory=list)

    def vector(self) -> list[float]:
        return [self.dense_top or 0.0, self.coverage, self.bm25_top]


FEATURES = ("dense_top", "coverage", "bm25_top")


def lexical_evidence(qt, bm25, place_words: Iterable[str], tokenizer) -> tuple[float, list[str], list[str]]:
    """(coverage, content words, missing words) for a tokenised query (index.tokenize.QueryTokens).

    Coverage is the idf-weighted share of the question's informative words that the corpus contains. A word
    jieba also split into parts counts by the share of its characters covered by known parts (房贷利率: only
    利率 → half); a word the synonym table maps to something the corpus contains counts fully.
    """
    generic = question_words()
    place_words = set(place_words)
    canon = tokenizer.canonical

    def known(token: str) -> bool:
        return bm25.doc_freq(canon(token)) > 0 or canon(token) in generic or token in place_words

    raw = qt.raw or qt.typed
    content = [t for t in raw
               if canon(t) not in generic and t not in place_words and not re.fullmatch(r"[\d.%]+", t)]
    if not content:
        # only generic words ("有什么补贴"): a question about subsidies in general is in scope if any were typed
        return (1.0 if raw else 0.0), [], []
    longest = [t for t in content if not any(t != u and t in u for u in content)]
    present_expansions = any(bm25.doc_freq(e) > 0 for e in qt.expanded)
    total = 0.0
    hit = 0.0
    missing: list[str] = []
    for word in longest:
        parts = [p for p in raw if p in word]
        weight = max(bm25.idf(canon(p)) for p in parts)
        total += weight
        if bm25.doc_freq(canon(word)) > 0 or (present_expansions and _expands(word, tokenizer)):
            hit += weight
            continue
        covered = [False] * len(word)
        for p in parts:
            if p != word and known(p):
                start = word.find(p)
                covered[start:start + len(p)] = [True] * len(p)
        share = sum(covered) / len(word)
        hit += weight * share
        if share < 1.0:
            missing.append(word)
    return (hit / total if total else 0.0), [canon(t) for t in content], missing


def _expands(word: str, tokenizer) -> bool:
    """Whether the synonym table maps `word` (or text containing it) to something."""
    table = tokenizer.synonyms["expand"]
    return any(word in key or key in word for key in table)


@dataclass(frozen=True)
class Calibration:
    intercept: float
    coef: tuple[float, float, float]
    threshold: float
    source: str = ""

    def probability(self, evidence: Evidence) -> float:
        z = self.intercept + sum(c * x for c, x in zip(self.coef, evidence.vector()))
        return 1.0 / (1.0 + math.exp(-z))


# Without a calibrated dense model (hash embedder, an uncalibrated local model), decide on words alone.
LEXICAL_ONLY = Calibration(intercept=-4.0, coef=(0.0, 8.0, 0.0), threshold=0.5, source="lexical-only default")


def bm25_gap(bm25_list: Sequence[tuple[int, float]]) -> float:
    """How far BM25's best candidate is ahead of the second: (s1 − s2) / s1, 1.0 for a lone candidate, 0 for none."""
    if not bm25_list or bm25_list[0][1] <= 0:
        return 0.0
    second = bm25_list[1][1] if len(bm25_list) > 1 else 0.0
    return (bm25_list[0][1] - second) / bm25_list[0][1]


@dataclass(frozen=True)
class DenseSkip:
    """When BM25 alone is decisive, the query is not embedded (the encoder is ~85% of an uncached search).

    Decisive: BM25's best candidate leads the second by at least `min_gap` (relative), and the words alone make
    the question relevant with probability at least `min_probability` under `lexical` (a model without the dense
    feature). Both are chosen on the tune split only (evals/retrieval_eval.py --calibrate-skip) so that skipping
    changes no tune ranking metric and no relevance decision; a skipped query's relevance is the lexical
    model's probability.
    """

    min_gap: float
    min_probability: float
    lexical: Calibration
    source: str = ""

    def decisive(self, bm25_list: Sequence[tuple[int, float]], evidence: Evidence) -> bool:
        return bm25_gap(bm25_list) >= self.min_gap and self.lexical.probability(evidence) >= self.min_probability


def _calibration_entry(embedder_name: str, embedder_key: str) -> dict:
    try:
        data = load_yaml(CALIBRATION_FILE.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    return data.get(embedder_key) or data.get(embedder_name) or {}


def _calibration(entry: dict) -> Calibration:
    coef = entry["coef"]
    return Calibration(
        intercept=float(entry["intercept"]),
        coef=tuple(float(coef.get(f, 0.0)) for f in FEATURES),  # type: ignore[arg-type]
        threshold=float(entry.get("threshold", 0.5)),
        source=str(entry.get("source", "")),
    )


def load_calibration(embedder_name: str, embedder_key: str = "") -> Calibration:
    entry = _calibration_entry(embedder_name, embedder_key)
    return _calibration(entry) if entry else LEXICAL_ONLY


def load_dense_skip(embedder_name: str, embedder_key: str = "", tokenizer: str | None = None) -> DenseSkip | None:
    """The calibrated skip rule of an embedding model; None (always embed) when it has none, or when it was
    calibrated for another tokenizer (new terms or synonyms move BM25's lead: recalibrate with
    `python -m evals.retrieval_eval --calibrate-skip`)."""
    skip = _calibration_entry(embedder_name, embedder_key).get("dense_skip")
    if not skip:
        return None
    if tokenizer is not None and skip.get("tokenizer") not in (None, tokenizer):
        import logging

        logging.getLogger(__name__).warning(
            "dense-skip rule calibrated for tokenizer %s, index built with %s: always embedding until "
            "`python -m evals.retrieval_eval --calibrate-skip` is run", skip.get("tokenizer"), tokenizer)
        return None
    return DenseSkip(min_gap=float(skip["min_gap"]), min_probability=float(skip["min_probability"]),
                     lexical=_calibration(skip["lexical"]), source=str(skip.get("source", "")))
