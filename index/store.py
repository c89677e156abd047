"""Chroma vector store: embedded `PersistentClient` under the index directory, or a `chroma run` server over HTTP.

Our embedding function is passed on every create and get (registered with Chroma under `policy_assistant`), so
Chroma never falls back to its default embedding function, which would try to download a model. Vectors are
always computed by us and passed in; queries pass `query_embeddings`.
One client per process and location (`client_for`).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import chromadb
import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions import register_embedding_function

EF_NAME = "policy_assistant"


@register_embedding_function
class PolicyEmbeddingFunction(EmbeddingFunction[Documents]):
    """Adapter from our `Embedder` to Chroma's protocol (passages on `__call__`, queries on `embed_query`)."""

    def __init__(self, embedder=None, *, config: dict | None = None):
        self._embedder = embedder
        self._config = dict(config or {})
        if embedder is not None:
            self._config = {"backend": embedder.name, "key": embedder.key}

    @property
    def embedder(self):
        if self._embedder is None:  # rebuilt from a persisted config: resolve lazily, never a download
            from index.embedders import make_embedder
            from policy_assistant.settings import Settings

            backend = self._config.get("backend", "hash")
            kwargs = {"st_model_path": self._config.get("st_model_path")} if backend == "sentence-transformers" else {}
            self._embedder = make_embedder(Settings(embedder=backend, **kwargs))
        return self._embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return [self.embedder.embed_query(text) for text in input]

    @staticmethod
    def name() -> str:
        return EF_NAME

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "PolicyEmbeddingFunction":
        return PolicyEmbeddingFunction(config=config)

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if old_config.get("key") != new_config.get("key"):
            raise ValueError("embedding model changed; rebuild the index instead of updating the collection")


_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def _chroma_settings() -> ChromaSettings:
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def client_for(settings, path: Path | None = None):
    """The process's Chroma client: persistent at `path`, or HTTP to settings.chroma_host:chroma_port."""
    if settings.chroma_mode == "http":
        key = ("http", settings.chroma_host, int(settings.chroma_port))
    else:
        if path is None:
            raise ValueError("persistent Chroma needs a path")
        key = ("persistent", str(Path(path).resolve()))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if key[0] == "http":
                client = chromadb.HttpClient(host=key[1], port=key[2], settings=_chroma_settings())
            else:
                Path(key[1]).mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=key[1], settings=_chroma_settings())
            _clients[key] = client
        return client


def forget_client(settings, path: Path | None = None) -> None:
    """Drop a cached client (e.g. after its directory was deleted)."""
    key = ("http", settings.chroma_host, int(settings.chroma_port)) if settings.chroma_mode == "http" else (
        "persistent", str(Path(path).resolve()) if path else "")
    with _clients_lock:
        _clients.pop(key, None)


class ChromaStore:
    """One collection of chunk vectors with doc-level metadata for filtering (index.vector_store.VectorStore)."""

    exact = False  # HNSW: approximate; filtered queries are over-fetched by the retriever

    def __init__(self, collection):
        self.collection = collection
        self._count: int | None = None

    @classmethod
    def create(cls, client, name: str, embedder, metadata: dict | None = None) -> "ChromaStore":
        try:
            client.delete_collection(name)
        except Exception:
            pass
        collection = client.create_collection(
            name=name,
            embedding_function=PolicyEmbeddingFunction(embedder),
            configuration={"hnsw": {"space": "cosine"}},  # Chroma's HNSW defaults otherwise (M=16, ef=100)
            metadata=metadata or None,
        )
        return cls(collection)

    @classmethod
    def open(cls, client, name: str, embedder) -> "ChromaStore":
        return cls(client.get_collection(name=name, embedding_function=PolicyEmbeddingFunction(embedder)))

    def add(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict], documents: Sequence[str],
            batch_size: int | None = None, progress=None) -> None:
        limit = batch_size or getattr(self.collection._client, "get_max_batch_size", lambda: 5000)()
        limit = max(1, min(int(limit), 5000))
        for start in range(0, len(ids), limit):
            end = start + limit
            self.collection.add(
                ids=list(ids[start:end]),
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                metadatas=list(metadatas[start:end]),
                documents=list(documents[start:end]),
            )
            if progress is not None:
                progress(min(end, len(ids)))
        self._count = None

    def count(self) -> int:
        if self._count is None:
            self._count = int(self.collection.count())
        return self._count

    def query(self, vector: np.ndarray, n: int, doc_ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) best first, optionally only within `doc_ids`."""
        n = min(n, self.count())
        if n <= 0 or (doc_ids is not None and not doc_ids):
            return []
        where = None
        if doc_ids is not None:
            where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        result = self.collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=n, where=where, include=["distances"]
        )
        ids = result["ids"][0]
        distances = result["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances)]
