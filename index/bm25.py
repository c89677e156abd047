"""BM25 over policy tokens (bm25s builds and stores the sparse score matrix; scoring here adds per-term weights)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

# Lucene BM25; k1/b are the usual defaults, kept after checking the tune split (short clauses, short queries).
K1 = 1.2
B = 0.75


class BM25Index:
    """Token lists in, weighted query scores out. Saved with bm25s; loaded memory-mapped."""

    def __init__(self, model):
        self.model = model
        scores = model.scores
        self._data = scores["data"]
        self._indices = scores["indices"]
        self._indptr = scores["indptr"]
        self.num_docs = int(scores["num_docs"])
        self.vocab: dict[str, int] = model.vocab_dict

    @classmethod
    def build(cls, corpus_tokens: Sequence[Sequence[str]]) -> "BM25Index":
        import bm25s

        model = bm25s.BM25(k1=K1, b=B, method="lucene")
        # bm25s needs at least one token per document; an empty document gets the empty token
        model.index([list(tokens) or [""] for tokens in corpus_tokens], show_progress=False)
        return cls(model)

    def save(self, directory: Path) -> None:
        self.model.save(str(directory))

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> "BM25Index":
        import bm25s

        return cls(bm25s.BM25.load(str(directory), mmap=mmap))

    def doc_freq(self, token: str) -> int:
        tid = self.vocab.get(token)
        return 0 if tid is None else int(self._indptr[tid + 1] - self._indptr[tid])

    def idf(self, token: str) -> float:
        """Lucene idf; unseen tokens get the idf of a token seen once less (the most informative)."""
        df = self.doc_freq(token)
        return float(np.log(1 + (self.num_docs - df + 0.5) / (df + 0.5)))

    def scores(self, weights: Mapping[str, float]) -> np.ndarray:
        """BM25 score of every document for a weighted bag of query tokens."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        for token, weight in weights.items():
            tid = self.vocab.get(token)
            if tid is None or not token:
                continue
            start, end = int(self._indptr[tid]), int(self._indptr[tid + 1])
            if end > start:
                out[self._indices[start:end]] += np.float32(weight) * self._data[start:end]
        return out

    def top(self, weights: Mapping[str, float], n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(document index, score) best first, only documents with a positive score (and in `mask`)."""
        scores = self.scores(weights)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if positive.size == 0:
            return []
        if positive.size > n:
            part = np.argpartition(-scores[positive], n - 1)[:n]
            positive = positive[part]
        order = positive[np.lexsort((positive, -scores[positive]))]
        return [(int(i), float(scores[i])) for i in order[:n]]
