"""BM25 over policy tokens (bm25s builds and stores the sparse score matrix; scoring here adds per-term weights)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

# Lucene BM25; k1/b are the usual defaults, kept after checking the tune split (short clauses, short queries).
K1 = 1.2
B = 0.75


class BM25Index:
    """Token lists in, weighted query scores out. Built and saved with bm25s; loaded from its files with numpy
    alone (the score matrix, memory-mapped, and the vocabulary): importing bm25s pulls in scipy, 0.2–0.6 s that a
    one-shot question or a fresh worker need not pay."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, num_docs: int,
                 vocab: dict[str, int], model=None):
        self.model = model  # the bm25s model when built here (saving needs it)
        self._data = data
        self._indices = indices
        self._indptr = indptr
        self.num_docs = int(num_docs)
        self.vocab = vocab

    @classmethod
    def _from_model(cls, model) -> "BM25Index":
        scores = model.scores
        return cls(scores["data"], scores["indices"], scores["indptr"], int(scores["num_docs"]), model.vocab_dict,
                   model=model)

    @classmethod
    def build(cls, corpus_tokens: Sequence[Sequence[str]]) -> "BM25Index":
        import bm25s

        model = bm25s.BM25(k1=K1, b=B, method="lucene")
        # bm25s needs at least one token per document; an empty document gets the empty token
        model.index([list(tokens) or [""] for tokens in corpus_tokens], show_progress=False)
        return cls._from_model(model)

    def save(self, directory: Path) -> None:
        if self.model is None:
            raise ValueError("only an index built in this process can be saved")
        self.model.save(str(directory))

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> "BM25Index":
        """Read what bm25s saved: params.index.json, vocab.index.json and the CSC score matrix (*.csc.index.npy)."""
        import json

        directory = Path(directory)
        params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
        vocab = json.loads((directory / "vocab.index.json").read_text(encoding="utf-8"))
        mode = "r" if mmap else None
        arrays = [np.load(directory / f"{name}.csc.index.npy", mmap_mode=mode) for name in ("data", "indices", "indptr")]
        return cls(*arrays, num_docs=int(params["num_docs"]), vocab=vocab)

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
