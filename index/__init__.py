"""index role: clause chunks, jieba BM25 + dense vectors in Chroma, hybrid retrieval, build/status, search CLI.

Importing this package is cheap; models, jieba and Chroma load on first use.

    from index import open_retriever
    result = open_retriever(settings).search("租GPU训练大模型能报销多少", k=5)
    result.hits[0].id, result.no_relevant
"""
from __future__ import annotations

from index.types import Chunk, Hit, SearchResult

__all__ = ["Chunk", "Hit", "SearchResult", "open_retriever", "build_index", "index_status", "HybridRetriever"]


def open_retriever(settings, **kwargs):
    """index.retriever.HybridRetriever over the served build (built first if missing)."""
    from index.retriever import open_retriever as _open

    return _open(settings, **kwargs)


def build_index(settings, **kwargs):
    from index.build import build_index as _build

    return _build(settings, **kwargs)


def index_status(settings) -> dict:
    from index.build import index_status as _status

    return _status(settings)


def __getattr__(name: str):
    if name == "HybridRetriever":
        from index.retriever import HybridRetriever

        return HybridRetriever
    raise AttributeError(name)
