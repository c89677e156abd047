"""Hybrid retrieval: BM25 and dense candidates fused by reciprocal rank, filtered by document metadata, with a
calibrated decision when nothing relevant exists."""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections import OrderedDict
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from index.types import Chunk, Hit, SearchResult

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "bm25", "dense"]

# Reciprocal rank fusion: score = Σ weight / (RRF_K + rank). Tuned on the eval's tune split (see evals/).
RRF_K = 3
BM25_WEIGHT = 1.0
DENSE_WEIGHT = 0.6
ORDINAL_WEIGHT = 1.0  # the third list: clauses whose label number matches "第三条"/"（八）"/"附件2" in the question
AMOUNT_WEIGHT = 0.5  # "能补多少/最高多少" questions: a bonus list of fused candidates that state an amount
QUERY_CACHE_SIZE = 4096
RESULT_CACHE_SIZE = 2048
CANDIDATES = 50  # per retriever, before fusion
# Filtered dense search: post-filter an unfiltered HNSW search when the filter keeps at least this share of chunks,
# fetching n / share * OVERFETCH results (at most MAX_FETCH); otherwise, or if too few survive, scan exactly.
POSTFILTER_MIN_SHARE = 0.05
POSTFILTER_OVERFETCH = 2.0
POSTFILTER_MAX_FETCH = 2000
_AMOUNT_QUESTION = re.compile(r"多少|几成|比例|最高|上限|封顶|额度")
_AMOUNT_TEXT = re.compile(r"\d+(?:\.\d+)?\s*(?:万元|元|%)")
DENSE_EXPANSION = True  # append synonym expansions to the query the dense model embeds


@dataclass(frozen=True)
class DocInfo:
    id: str
    title: str
    region: str
    region_path: tuple[str, ...]
    level: str
    effective_from: dt.date
    effective_to: dt.date

    def as_dict(self) -> dict:
        return {"id": self.id, "region": self.region, "region_path": list(self.region_path), "level": self.level}


def _region_matches(region: str, path: Sequence[str]) -> bool:
    """'思明' matches 思明区; '厦门' matches documents of 厦门市 and of its districts; '福建' everything in Fujian."""
    from index.relevance import short_name

    wanted = short_name(region.strip())
    return any(wanted in (p, short_name(p)) for p in path)


class HybridRetriever:
    """Serves one finished build. Cheap to open; the embedder, jieba and Chroma load on first use (or warm_up)."""

    def __init__(self, settings, build_dir: Path, manifest: dict, chunks: list[Chunk], embedder, tokenizer,
                 store_factory=None):
        from index.bm25 import BM25Index
        from index.relevance import covered_places, load_calibration, load_dense_skip

        self.settings = settings
        self.build_dir = build_dir
        self.manifest = manifest
        self.chunks = chunks
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.bm25 = BM25Index.load(build_dir / "bm25")
        self._store_factory = store_factory
        self._store = None
        self.dense_degraded = ""  # set when Chroma failed and dense search fell back to the stored vectors
        self._lock = threading.Lock()
        self._chunk_pos = {c.id: i for i, c in enumerate(chunks)}
        self.docs: dict[str, DocInfo] = {}
        for c in chunks:
            if c.doc_id not in self.docs:
                self.docs[c.doc_id] = DocInfo(c.doc_id, c.document, c.region, c.region_path, c.level,
                                              dt.date.fromisoformat(c.effective_from), dt.date.fromisoformat(c.effective_to))
        self._doc_codes = {d: i for i, d in enumerate(self.docs)}
        self._ordinals: list | None = None
        self._has_amount: np.ndarray | None = None
        self._doc_counts: np.ndarray | None = None
        self._vectors: np.ndarray | None = None
        # Query vectors by dense-query text: repeated questions (hotline FAQs, widget suggestions) skip the encoder.
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._results: OrderedDict[tuple, SearchResult] = OrderedDict()
        self._chunk_doc = np.array([self._doc_codes[c.doc_id] for c in chunks], dtype=np.int32)
        self.covered = covered_places(d.as_dict() for d in self.docs.values())
        self.calibration = load_calibration(embedder.name, embedder.key)
        self._dense_skip = load_dense_skip(embedder.name, embedder.key, manifest.get("tokenizer"))

    @property
    def dense_skip(self):
        """The calibrated rule for skipping the encoder (index.relevance.DenseSkip), None to always embed."""
        return self._dense_skip

    @dense_skip.setter
    def dense_skip(self, rule) -> None:
        with self._lock:
            self._dense_skip = rule
            self._results.clear()  # memoised results were ranked under the old rule

    # --- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def store(self):
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._store_factory()
        return self._store

    def warm_up(self, sample: str = "第一条补助最高多少") -> "HybridRetriever":
        """Load what a first query would, now: jieba's dictionary, the vector store (exact vectors or Chroma) and the
        encoder; then run one search through every step (encode, fuse, ordinals, amounts, relevance)."""
        self.tokenizer.warm_up()
        self.embedder.warm_up()
        if not self.dense_degraded:
            try:
                count = self.store.count()
                if count != len(self.chunks):
                    raise RuntimeError(f"collection holds {count} vectors, the build {len(self.chunks)}")
            except Exception as exc:  # noqa: BLE001 - see _dense_ranked: exact search over the stored vectors
                log.error("vector store unusable at warm-up (%s)", exc)
                self.dense_degraded = "向量库不可用，已改用精确向量检索"
        self.search(sample, k=3, allow_skip=False)
        return self

    @property
    def build_id(self) -> str:
        return self.manifest["build_id"]

    # --- filters -------------------------------------------------------------------------------------------------
    def allowed_docs(self, region: str | None = None, doc_id: str | None = None, level: str | None = None,
                     in_force_on: dt.date | None = None) -> list[str] | None:
        """Document ids passing the filters; None when no filter is set."""
        if not any((region, doc_id, level, in_force_on)):
            return None
        if isinstance(in_force_on, str):
            in_force_on = dt.date.fromisoformat(in_force_on)
        out = []
        for d in self.docs.values():
            if doc_id and d.id != doc_id:
                continue
            if region and not _region_matches(region, d.region_path):
                continue
            if level and d.level != level:
                continue
            if in_force_on and not (d.effective_from <= in_force_on <= d.effective_to):
                continue
            out.append(d.id)
        return out

    # --- ranking --------------------------------------------------------------------------------------------------
    def _bm25_ranked(self, weights: dict[str, float], allowed: list[str] | None, n: int) -> list[tuple[int, float]]:
        mask = None
        if allowed is not None:
            codes = np.array([self._doc_codes[d] for d in allowed], dtype=np.int32)
            mask = np.isin(self._chunk_doc, codes)
        return self.bm25.top(weights, n, mask)

    def _dense_ranked(self, vector: np.ndarray, allowed: list[str] | None, n: int) -> list[tuple[int, float]]:
        """Dense candidates from the vector store (index/vector_store.py): exact stores filter themselves.

        Chroma's HNSW index: with a filter, the ANN results are over-fetched and filtered here. When the neighbourhood holds too few
        chunks of the allowed documents, the allowed chunks are scanned exactly from the build's stored vectors:
        Chroma's own filtered search reads the metadata of every matching record and took 130–320 ms at 100k chunks,
        the exact scan takes a few milliseconds.
        """
        if self.dense_degraded:
            return self._exact_ranked(vector, allowed if allowed is not None else list(self.docs), n)
        try:
            return self._ann_ranked(vector, allowed, n)
        except Exception as exc:  # noqa: BLE001 - Chroma unreadable: the checksummed vectors still answer exactly
            log.error("vector store failed (%s); searching the build's stored vectors exactly from now on",
                      type(exc).__name__)
            self.dense_degraded = f"向量库读取失败（{type(exc).__name__}），已改用精确向量检索"
            return self._exact_ranked(vector, allowed if allowed is not None else list(self.docs), n)

    def _ann_ranked(self, vector: np.ndarray, allowed: list[str] | None, n: int) -> list[tuple[int, float]]:
        if allowed is None or self.store.exact:
            out = []
            for chunk_id, sim in self.store.query(vector, n, allowed):
                pos = self._chunk_pos.get(chunk_id)
                if pos is not None:
                    out.append((pos, sim))
            return out
        share = self._doc_share(allowed)
        if share >= POSTFILTER_MIN_SHARE:
            fetch = int(n / share * POSTFILTER_OVERFETCH)
            if fetch <= POSTFILTER_MAX_FETCH:
                allowed_set = set(allowed)
                out = []
                for chunk_id, sim in self.store.query(vector, fetch):
                    pos = self._chunk_pos.get(chunk_id)
                    if pos is not None and self.chunks[pos].doc_id in allowed_set:
                        out.append((pos, sim))
                if len(out) >= n or fetch >= self.store.count():
                    return out[:n]
        return self._exact_ranked(vector, allowed, n)

    def _exact_ranked(self, vector: np.ndarray, allowed: list[str], n: int) -> list[tuple[int, float]]:
        """Exact cosine search over the chunks of the allowed documents (stored vectors, memory-mapped)."""
        if self._vectors is None:
            self._vectors = np.load(self.build_dir / "vectors.npy", mmap_mode="r")
        codes = np.array([self._doc_codes[d] for d in allowed], dtype=np.int32)
        mask = np.isin(self._chunk_doc, codes)
        if mask.mean() < 0.3:
            rows = np.flatnonzero(mask)
            sims = np.asarray(self._vectors[rows] @ vector)
        else:  # most rows wanted: one pass over the whole matrix is cheaper than gathering them
            sims_all = np.asarray(self._vectors @ vector)
            rows = np.flatnonzero(mask)
            sims = sims_all[rows]
        if sims.size > n:
            top = np.argpartition(-sims, n - 1)[:n]
        else:
            top = np.arange(sims.size)
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(rows[i]), float(sims[i])) for i in top]

    def _doc_share(self, allowed: list[str]) -> float:
        if self._doc_counts is None:
            self._doc_counts = np.bincount(self._chunk_doc, minlength=len(self._doc_codes))
        return float(sum(self._doc_counts[self._doc_codes[d]] for d in allowed)) / max(len(self.chunks), 1)

    def _embed_query_cached(self, text: str) -> np.ndarray:
        """The query's vector, from a bounded LRU keyed by the exact dense-query text (vectors are deterministic)."""
        with self._lock:
            vector = self._query_vectors.get(text)
            if vector is not None:
                self._query_vectors.move_to_end(text)
                return vector
        vector = self.embedder.embed_query(text)
        with self._lock:
            self._query_vectors[text] = vector
            while len(self._query_vectors) > QUERY_CACHE_SIZE:
                self._query_vectors.popitem(last=False)
        return vector

    def search(self, query: str, k: int = 5, region: str | None = None, doc_id: str | None = None,
               level: str | None = None, in_force_on: dt.date | None = None, *, mode: Mode = "hybrid",
               candidates: int = CANDIDATES, allow_skip: bool = True) -> SearchResult:
        """Top-k clauses for `query` (one hit per clause), and whether anything relevant exists at all.

        Hybrid search does not embed the query when BM25 is decisive (`self.dense_skip`, calibrated on the tune
        split) or when the question names only places the corpus does not cover (then nothing is relevant
        whatever the vectors say); `allow_skip=False` always embeds. Results are memoised per build (an answer
        often searches the same words twice; a repeated question searches nothing).
        """
        key = (query, k, region, doc_id, level, in_force_on, mode, candidates, allow_skip)
        with self._lock:
            cached = self._results.get(key)
            if cached is not None:
                self._results.move_to_end(key)
                return cached
        result = self._search(query, k, region, doc_id, level, in_force_on, mode=mode, candidates=candidates,
                              allow_skip=allow_skip)
        with self._lock:
            self._results[key] = result
            while len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)
        return result

    def _search(self, query: str, k: int, region, doc_id, level, in_force_on, *, mode: Mode, candidates: int,
                allow_skip: bool) -> SearchResult:
        from index.relevance import LEXICAL_ONLY, uncovered_places

        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        query = (query or "").strip()
        if not query:
            return SearchResult(query=query, no_relevant=True, reason="问题为空。", relevance=0.0)
        allowed = self.allowed_docs(region, doc_id, level, in_force_on)
        if allowed is not None and not allowed:
            return SearchResult(query=query, no_relevant=True, reason="按所选地区/文件/层级/日期筛选后，没有可检索的政策文件。",
                                relevance=0.0)

        qt = self.tokenizer.query(query)
        weights = qt.weights()
        timings["tokenize"] = (time.perf_counter() - t0) * 1000

        bm25_list: list[tuple[int, float]] = []
        dense_list: list[tuple[int, float]] = []
        if mode in ("hybrid", "bm25"):
            t = time.perf_counter()
            bm25_list = self._bm25_ranked(weights, allowed, candidates)
            timings["bm25"] = (time.perf_counter() - t) * 1000
        evidence = self._evidence(qt, bm25_list, [])
        places = uncovered_places(query, self.covered)
        skip = mode == "hybrid" and allow_skip and (
            bool(places) or (self.dense_skip is not None and self.dense_skip.decisive(bm25_list, evidence)))
        if mode == "dense" or (mode == "hybrid" and not skip):
            t = time.perf_counter()
            vector = self._embed_query_cached(self._dense_query(query, qt))
            timings["embed"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            dense_list = self._dense_ranked(vector, allowed, candidates)
            timings["dense"] = (time.perf_counter() - t) * 1000
            evidence.dense_top = dense_list[0][1] if dense_list else None

        ordinal_list = self._ordinal_ranked(query, bm25_list, allowed, candidates) if mode == "hybrid" else []
        fused = self._fuse(bm25_list, dense_list, mode, ordinal_list)
        if mode == "hybrid" and _AMOUNT_QUESTION.search(query):
            fused = self._amount_bonus(fused)
        hits = self._hits(fused, bm25_list, dense_list, k, mode, dense_used=bool(dense_list) or not skip)

        # the relevance decision
        if skip and not places:
            calibration = self.dense_skip.lexical  # type: ignore[union-attr]
        else:
            calibration = self.calibration if dense_list else LEXICAL_ONLY
        relevance = calibration.probability(evidence)
        no_relevant, reason = False, ""
        if places:
            no_relevant, relevance = True, 0.0
            reason = f"现有政策文件不涉及{'、'.join(places)}（仅收录{'、'.join(sorted(self.covered))}的相关文件）。"
        elif not hits:
            no_relevant, reason, relevance = True, "没有找到与问题相关的政策条款。", 0.0
        elif relevance < calibration.threshold:
            no_relevant = True
            words = "、".join(evidence.missing_words[:3])
            reason = f"现有政策文件没有涉及“{words}”的条款。" if words else "现有政策文件中没有与问题明显相关的条款。"
        timings["total"] = (time.perf_counter() - t0) * 1000
        return SearchResult(query=query, hits=hits, no_relevant=no_relevant, reason=reason, relevance=relevance,
                            timings_ms=timings, dense_skipped=skip)

    def _evidence(self, qt, bm25_list, dense_list):
        from index.relevance import Evidence, lexical_evidence

        place_words = {w for w in (qt.raw or qt.typed) if self._is_place_word(w)}
        coverage, content, missing = lexical_evidence(qt, self.bm25, place_words, self.tokenizer)
        # best BM25 score from the informative words alone (typed and their expansions), per informative word
        if content:
            weights = {t: w for t, w in qt.weights().items() if t in content or t in qt.expanded}
            best = self.bm25.scores(weights).max(initial=0.0) if weights else 0.0
            bm25_top = float(best) / len(content)
        else:
            bm25_top = (bm25_list[0][1] / max(len(qt.typed), 1)) if bm25_list else 0.0
        return Evidence(dense_top=dense_list[0][1] if dense_list else None, coverage=coverage, bm25_top=bm25_top,
                        content_words=content, missing_words=missing)

    @staticmethod
    def _dense_query(query: str, qt) -> str:
        """The query as embedded: with the synonym expansions appended (tune split: dense MRR 0.816 → 0.828)."""
        return f"{query} {' '.join(qt.expanded)}" if (DENSE_EXPANSION and qt.expanded) else query

    def evidence(self, query: str):
        """The relevance features of an unfiltered query (for calibration and diagnostics)."""
        qt = self.tokenizer.query(query)
        bm25_list = self._bm25_ranked(qt.weights(), None, 1)
        dense_list = self._dense_ranked(self._embed_query_cached(self._dense_query(query, qt)), None, 1)
        return self._evidence(qt, bm25_list, dense_list)

    def _is_place_word(self, word: str) -> bool:
        from index.relevance import gazetteer

        return gazetteer().canonical(word) is not None

    def _ordinal_ranked(self, query: str, bm25_list, allowed, n: int) -> list[tuple[int, float]]:
        """Chunks whose label carries a number the question names, most specific label first, then by BM25."""
        from index.ordinals import query_ordinals

        wanted = query_ordinals(query)
        if not wanted:
            return []
        if self._ordinals is None:
            from index.ordinals import label_ordinals

            self._ordinals = [label_ordinals(c.clause) for c in self.chunks]
        bm25_score = dict(bm25_list)
        allowed_set = set(allowed) if allowed is not None else None
        matches = []
        for pos, ords in enumerate(self._ordinals):
            if not ords or (allowed_set is not None and self.chunks[pos].doc_id not in allowed_set):
                continue
            if ords[-1] in wanted:
                matches.append((0, -bm25_score.get(pos, 0.0), pos))
            elif any(o in wanted for o in ords[:-1]):
                matches.append((1, -bm25_score.get(pos, 0.0), pos))
        matches.sort()
        return [(pos, -neg) for _, neg, pos in matches[:n]]

    def _amount_bonus(self, fused: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Questions about amounts: fused candidates whose text states an amount get a second, RRF-style list."""
        if self._has_amount is None:
            self._has_amount = np.array([bool(_AMOUNT_TEXT.search(c.text)) for c in self.chunks])
        scores = dict(fused)
        with_amount = [pos for pos, _ in fused if self._has_amount[pos]]
        for rank, pos in enumerate(with_amount, start=1):
            scores[pos] += AMOUNT_WEIGHT / (RRF_K + rank)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    @staticmethod
    def _fuse(bm25_list, dense_list, mode: Mode, ordinal_list=()) -> list[tuple[int, float]]:
        scores: dict[int, float] = {}
        for rank, (pos, _) in enumerate(ordinal_list, start=1):
            scores[pos] = scores.get(pos, 0.0) + ORDINAL_WEIGHT / (RRF_K + rank)
        if mode in ("hybrid", "bm25"):
            w = BM25_WEIGHT if mode == "hybrid" else 1.0
            for rank, (pos, _) in enumerate(bm25_list, start=1):
                scores[pos] = scores.get(pos, 0.0) + w / (RRF_K + rank)
        if mode in ("hybrid", "dense"):
            w = DENSE_WEIGHT if mode == "hybrid" else 1.0
            for rank, (pos, _) in enumerate(dense_list, start=1):
                scores[pos] = scores.get(pos, 0.0) + w / (RRF_K + rank)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    def _hits(self, fused, bm25_list, dense_list, k: int, mode: Mode, dense_used: bool = True) -> list[Hit]:
        bm25_rank = {pos: r for r, (pos, _) in enumerate(bm25_list, start=1)}
        dense_rank = {pos: r for r, (pos, _) in enumerate(dense_list, start=1)}
        # 1.0 = ranked first by every list that was consulted (a hybrid search that skipped the encoder: BM25 alone)
        best = (BM25_WEIGHT + DENSE_WEIGHT) / (RRF_K + 1) if mode == "hybrid" and dense_used else 1.0 / (RRF_K + 1)
        hits: list[Hit] = []
        seen: set[str] = set()
        for pos, score in fused:
            chunk = self.chunks[pos]
            if chunk.clause_id in seen:
                continue
            seen.add(chunk.clause_id)
            hits.append(Hit(
                id=chunk.clause_id, doc_id=chunk.doc_id, document=chunk.document, doc_number=chunk.doc_number,
                clause=chunk.clause, text=chunk.text, score=min(score / best, 1.0), kind=chunk.kind,
                chunk_id=chunk.id, region=chunk.region, level=chunk.level,
                bm25_rank=bm25_rank.get(pos), dense_rank=dense_rank.get(pos),
            ))
            if len(hits) >= k:
                break
        return hits


def open_retriever(settings, *, build_if_missing: bool = True) -> HybridRetriever:
    """The retriever over the index that CURRENT points to (built first if there is none yet).

    The build is verified first (`index.build.verify_build`); a damaged one raises `IndexCorrupt`."""
    from index.build import (IndexCorrupt, IndexPaths, build_index, chroma_problems, collection_name, load_chunks,
                             prefix_dict_path, read_manifest, verify_build)
    from index.embedders import make_embedder
    from index.tokenize import PolicyTokenizer, default_tokenizer

    paths = IndexPaths(Path(settings.index_dir))
    build_dir = paths.current_build()
    if build_dir is None:
        if not build_if_missing:
            raise FileNotFoundError(f"索引尚未构建：请先运行 policy-assistant index build（{paths.root}）")
        build_index(settings, progress=False)
        build_dir = paths.current_build()
    manifest = read_manifest(build_dir)
    problems = verify_build(build_dir, manifest, chroma=False)
    if problems:
        raise IndexCorrupt(problems)
    embedder = make_embedder(settings)
    if manifest["embedder_key"] != embedder.key:
        raise RuntimeError(
            f"索引由嵌入模型 {manifest['embedder_key']} 构建，当前设置为 {embedder.key}；请重新运行 policy-assistant index build"
        )
    if manifest["chroma_mode"] != settings.chroma_mode:
        raise RuntimeError(f"索引的向量库模式为 {manifest['chroma_mode']}，当前设置为 {settings.chroma_mode}；请重新构建索引")
    try:
        chunks = load_chunks(build_dir)
    except (ValueError, KeyError, TypeError) as exc:  # checksummed, so only a legacy build gets here damaged
        raise IndexCorrupt([f"chunks.jsonl 无法解析（{type(exc).__name__}）"]) from None

    from index.vector_store import open_vector_store

    # Chroma is the store of record even when exact search serves: its damage is reported either way (a read-only
    # integrity check of its SQLite file; chromadb itself is not imported)
    damaged_chroma = chroma_problems(build_dir / "chroma") if manifest.get("chroma_mode") == "persistent" else []
    # the build's own prefix dictionary: queries are cut as the index was, without loading all of jieba's
    prefix = prefix_dict_path(paths, manifest.get("tokenizer", ""))
    tokenizer = PolicyTokenizer(prefix_dict=prefix) if prefix.exists() else default_tokenizer()

    def store_factory():
        return open_vector_store(settings, build_dir, collection_name(settings, manifest["build_id"]), chunks, embedder)

    retriever = HybridRetriever(settings, build_dir, manifest, chunks, embedder, tokenizer, store_factory=store_factory)
    if damaged_chroma:
        log.error("vector store damaged (%s); dense search uses the build's stored vectors", "; ".join(damaged_chroma))
        retriever.dense_degraded = f"向量库文件已损坏（{'；'.join(damaged_chroma)}），已改用精确向量检索；请运行 policy-assistant index build 重建"
    return retriever
