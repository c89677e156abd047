"""Build the index atomically and incrementally; report its status.

Layout under `settings.index_dir`:

    CURRENT                      {"build": "<id>"}: the build that is served, replaced atomically (os.replace)
    builds/<id>/manifest.json    written last; a build without it is unfinished and never served
    builds/<id>/chunks.jsonl     chunk records (text and metadata) in index order
    builds/<id>/vectors.npy      float32 chunk vectors in the same order (benchmarks replicate these)
    builds/<id>/bm25/            bm25s matrices
    builds/<id>/chroma/          Chroma PersistentClient data (persistent mode)
    cache/vectors-<model>.sqlite passage vectors keyed by sha256(model key, indexed text)

A build goes into a fresh builds/<id>; CURRENT moves only after everything is written, so a build that is killed
half-way leaves the previous index in service (the orphan folder is removed by the next build). Unchanged corpus
→ nothing is rebuilt; changed documents → only chunks whose text changed are embedded, the rest come from the cache.

The manifest records a sha256 of every file the build owns (chunks, vectors, BM25; Chroma rewrites its own files
when opened, so its database gets an integrity check instead). `verify_build` checks them: the server refuses to
serve a build that fails (503 with a Chinese message, /healthz says why), and `index build` replaces it even when
the corpus has not changed. A corrupt vector cache is discarded (it is only a cache) and rebuilt.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from index.types import Chunk

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
KEEP_BUILDS = 2  # the served build and the one before it (a process may still be reading it)
EMBED_BATCH = 8


# --- paths ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexPaths:
    root: Path

    @property
    def current(self) -> Path:
        return self.root / "CURRENT"

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def lock(self) -> Path:
        return self.root / ".build.lock"

    def build(self, build_id: str) -> Path:
        return self.builds / build_id

    def current_build(self) -> Path | None:
        try:
            build_id = json.loads(self.current.read_text(encoding="utf-8"))["build"]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        path = self.build(build_id)
        return path if (path / "manifest.json").exists() else None


class IndexCorrupt(RuntimeError):
    """The served build failed verification; `problems` say which files, `message_zh` what to do."""

    code = "index_corrupt"

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))
        self.message_zh = (f"政策索引文件已损坏（{'；'.join(self.problems[:3])}），暂时无法检索。"
                           "请管理员运行 policy-assistant index build 重建索引（服务无需重启）。")


def read_manifest(build_dir: Path) -> dict:
    try:
        manifest = json.loads((build_dir / "manifest.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise IndexCorrupt(["manifest.json 无法解析"]) from None
    if not isinstance(manifest, dict) or "build_id" not in manifest:
        raise IndexCorrupt(["manifest.json 内容不完整"])
    return manifest


def _owned_files(build_dir: Path) -> list[Path]:
    """The files a build owns and checksums: chunk records, vectors, BM25 matrices."""
    files = [build_dir / "chunks.jsonl", build_dir / "vectors.npy"]
    bm25 = build_dir / "bm25"
    if bm25.is_dir():
        files += sorted(p for p in bm25.rglob("*") if p.is_file())
    return files


def file_checksums(build_dir: Path) -> dict[str, str]:
    out = {}
    for path in _owned_files(build_dir):
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out[path.relative_to(build_dir).as_posix()] = h.hexdigest()
    return out


def verify_build(build_dir: Path, manifest: dict | None = None, *, chroma: bool = True) -> list[str]:
    """Problems with a finished build (empty = it is what its manifest says). Legacy manifests without checksums pass
    here (nothing to compare) but are not up to date, so the next `index build` replaces them. `chroma=False` checks
    only the files the build owns (what serving needs; dense search can fall back to the stored vectors)."""
    try:
        manifest = manifest or read_manifest(build_dir)
    except IndexCorrupt as exc:
        return exc.problems
    problems = []
    recorded = manifest.get("checksums")
    if isinstance(recorded, dict):
        for rel, digest in recorded.items():
            path = build_dir / rel
            if not path.is_file():
                problems.append(f"{rel} 缺失")
                continue
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            if h.hexdigest() != digest:
                problems.append(f"{rel} 校验和不符")
    if chroma and manifest.get("chroma_mode", "persistent") == "persistent":
        problems += chroma_problems(build_dir / "chroma")
    return problems


def chroma_problems(chroma_dir: Path) -> list[str]:
    """Chroma's SQLite file must pass an integrity check (opened read-only; Chroma may have it open too)."""
    db = chroma_dir / "chroma.sqlite3"
    if not db.is_file():
        return ["chroma/chroma.sqlite3 缺失"]
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [f"chroma/chroma.sqlite3 无法读取（{exc}）"]
    return [] if result == "ok" else ["chroma/chroma.sqlite3 完整性检查失败"]


def load_chunks(build_dir: Path) -> list[Chunk]:
    with open(build_dir / "chunks.jsonl", encoding="utf-8") as f:
        return [Chunk.from_dict(json.loads(line)) for line in f if line.strip()]


def collection_name(settings, build_id: str) -> str:
    """Persistent mode: each build has its own Chroma folder. HTTP mode: one server, a collection per build."""
    return settings.collection if settings.chroma_mode == "persistent" else f"{settings.collection}-{build_id}"


# --- hashing ----------------------------------------------------------------------------------------------
def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_hash(chunk: Chunk) -> str:
    return _sha(json.dumps(chunk.to_dict(), ensure_ascii=False, sort_keys=True))


def corpus_hash(chunks: Sequence[Chunk]) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(chunk_hash(c).encode())
    return h.hexdigest()


def doc_hashes(chunks: Sequence[Chunk]) -> dict[str, str]:
    per_doc: dict[str, hashlib._Hash] = {}
    for c in chunks:
        per_doc.setdefault(c.doc_id, hashlib.sha256()).update(chunk_hash(c).encode())
    return {doc: h.hexdigest()[:16] for doc, h in per_doc.items()}


# --- vector cache -------------------------------------------------------------------------------------------
class VectorCache:
    """Passage vectors on disk, keyed by sha256(model key + indexed text); each batch is committed as it lands."""

    def __init__(self, directory: Path, model_key: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.model_key = model_key
        self.path = directory / f"vectors-{_sha(model_key)[:12]}.sqlite"
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:  # only a cache: discard it and embed again
            log.warning("vector cache %s is damaged (%s); discarding it", self.path.name, exc)
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    self.path.with_name(self.path.name + suffix).unlink()
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
            db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('model', ?)", (self.model_key,))
            db.commit()
        except BaseException:
            db.close()
            raise
        return db

    def key(self, text: str) -> str:
        return _sha(f"{self.model_key}\n{text}")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start:start + 500])
            marks = ",".join("?" * len(part))
            for key, dim, blob in self._db.execute(f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", part):
                try:
                    found[key] = np.frombuffer(blob, dtype=np.float32, count=dim).copy()
                except (ValueError, TypeError):  # a damaged row: embed that chunk again
                    continue
        return found

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        rows = [(k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items]
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
        self._db.commit()

    def close(self) -> None:
        self._db.close()


# --- locking --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _build_lock(paths: IndexPaths) -> Iterator[None]:
    import fcntl

    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError("另一个索引构建正在进行中（index build already running）") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- build ----------------------------------------------------------------------------------------------------
@dataclass
class BuildReport:
    build_id: str
    built: bool  # False when the index was already up to date
    chunks: int
    embedded: int  # chunks whose vectors were computed in this build
    reused: int  # chunks whose vectors came from the cache
    seconds: float
    corpus_hash: str
    changed_docs: list[str] = field(default_factory=list)
    path: str = ""
    replaced_corrupt: list[str] = field(default_factory=list)  # problems of the build this one replaced

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def _chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_id": chunk.doc_id,
        "clause_id": chunk.clause_id,
        "kind": chunk.kind,
        "region": chunk.region,
        "level": chunk.level,
        "effective_from": int(chunk.effective_from.replace("-", "")),
        "effective_to": int(chunk.effective_to.replace("-", "")),
    }


def _embed_missing(chunks: Sequence[Chunk], embedder, cache: VectorCache, progress: bool) -> tuple[np.ndarray, int]:
    keys = [cache.key(c.embedded_text) for c in chunks]
    found = cache.get_many(keys)
    missing = [i for i, k in enumerate(keys) if k not in found]
    if missing:
        from tqdm import tqdm

        bar = tqdm(total=len(missing), desc="嵌入条款", unit="块", disable=not progress, leave=True)
        try:
            for start in range(0, len(missing), EMBED_BATCH):
                batch = missing[start:start + EMBED_BATCH]
                vectors = embedder.embed_passages([chunks[i].embedded_text for i in batch])
                cache.put_many([(keys[i], v) for i, v in zip(batch, vectors)])
                found.update({keys[i]: v for i, v in zip(batch, vectors)})
                bar.update(len(batch))
        finally:
            bar.close()
    return np.stack([found[k] for k in keys]).astype(np.float32), len(missing)


def _is_up_to_date(manifest: dict | None, *, settings, embedder_key: str, tokenizer_fp: str, chash: str) -> bool:
    return bool(
        manifest
        and isinstance(manifest.get("checksums"), dict)
        and manifest.get("format") == FORMAT_VERSION
        and manifest.get("corpus_hash") == chash
        and manifest.get("embedder_key") == embedder_key
        and manifest.get("tokenizer") == tokenizer_fp
        and manifest.get("chroma_mode") == settings.chroma_mode
        and manifest.get("collection") == collection_name(settings, manifest.get("build_id", ""))
        and (settings.chroma_mode == "persistent"
             or (manifest.get("chroma_host"), manifest.get("chroma_port")) == (settings.chroma_host, settings.chroma_port))
    )


def build_index(settings, *, extra_clauses: Sequence[Any] = (), extra_documents: Sequence[Any] = (),
                extra_corpus_dir: str | Path | None = None, force: bool = False, progress: bool = True,
                chunks: Sequence[Chunk] | None = None) -> BuildReport:
    """Build (or confirm) the index for `settings`. Extra clauses/documents are test-only additions (evals)."""
    from index.chunking import corpus_chunks, load_extra_corpus
    from index.embedders import make_embedder
    from index.tokenize import default_tokenizer

    started = time.perf_counter()
    paths = IndexPaths(Path(settings.index_dir))
    if chunks is None:
        extra_clauses, extra_documents = list(extra_clauses), list(extra_documents)
        if extra_corpus_dir:  # a test-only folder (evals)
            more_clauses, more_docs = load_extra_corpus(extra_corpus_dir)
            extra_clauses += more_clauses
            extra_documents += more_docs
        # the settings' corpus folders: corpus/ and the folders of notices added with `docs add`
        chunks = corpus_chunks(extra_clauses, extra_documents, corpus_dirs=settings_corpus_dirs(settings))
    chunks = list(chunks)
    embedder = make_embedder(settings)
    tokenizer = default_tokenizer()
    chash = corpus_hash(chunks)

    with _build_lock(paths):
        current = paths.current_build()
        previous, corrupt = None, []
        if current:
            try:
                previous = read_manifest(current)
                corrupt = verify_build(current, previous)
            except IndexCorrupt as exc:
                corrupt = exc.problems
            if corrupt:
                log.warning("served build %s is damaged (%s); replacing it", current.name, "; ".join(corrupt))
                previous = None
        if not force and not corrupt and _is_up_to_date(previous, settings=settings, embedder_key=embedder.key,
                                                        tokenizer_fp=tokenizer.fingerprint, chash=chash):
            export_prefix_dict(paths, tokenizer)  # indexes built before prefix dictionaries existed
            return BuildReport(previous["build_id"], False, len(chunks), 0, len(chunks),
                               time.perf_counter() - started, chash, [], str(current))

        new_docs = doc_hashes(chunks)
        old_docs = (previous or {}).get("doc_hashes", {})
        changed = sorted(d for d in set(new_docs) | set(old_docs) if new_docs.get(d) != old_docs.get(d))

        # sortable by creation time (microseconds, fixed width): _prune keeps "the newest" by name order
        build_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f-") + uuid.uuid4().hex[:4]
        build_dir = paths.build(build_id)
        build_dir.mkdir(parents=True)
        _remove_orphans(paths, keep={build_dir.name, current.name if current else ""})

        # 1. vectors (cached by content; only new or changed chunk texts are embedded)
        cache = VectorCache(paths.cache, embedder.key)
        try:
            vectors, embedded = _embed_missing(chunks, embedder, cache, progress)
        finally:
            cache.close()

        # 2. chunk records, BM25 and Chroma; the tokenizer's prefix dictionary for fast query-side start-up
        write_build_files(settings, build_dir, build_id, chunks, vectors,
                          [tokenizer.tokens(c.indexed_text) for c in chunks], embedder, progress)
        export_prefix_dict(paths, tokenizer)

        # 4. manifest last, then the atomic swap
        seconds = time.perf_counter() - started
        manifest = {
            "format": FORMAT_VERSION,
            "build_id": build_id,
            "built_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "build_seconds": round(seconds, 3),
            "embedder": embedder.name,
            "embedder_key": embedder.key,
            "dim": int(vectors.shape[1]),
            "tokenizer": tokenizer.fingerprint,
            "corpus_hash": chash,
            "doc_hashes": new_docs,
            "chunks": len(chunks),
            "clauses": len({c.clause_id for c in chunks}),
            "documents": len(new_docs),
            "extra_documents": sorted({c.doc_id for c in chunks if c.extra}),
            "embedded": embedded,
            "reused": len(chunks) - embedded,
            "changed_docs": changed,
            "chroma_mode": settings.chroma_mode,
            "chroma_host": settings.chroma_host,
            "chroma_port": settings.chroma_port,
            "collection": collection_name(settings, build_id),
            "checksums": file_checksums(build_dir),
        }
        _write_atomic(build_dir / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        _write_atomic(paths.current, json.dumps({"build": build_id}))
        _prune(settings, paths, keep_latest=build_id)
        return BuildReport(build_id, True, len(chunks), embedded, len(chunks) - embedded, seconds, chash, changed,
                           str(build_dir), replaced_corrupt=corrupt)


def prefix_dict_path(paths: IndexPaths, tokenizer_fingerprint: str) -> Path:
    """Where the prefix dictionary of a tokenizer lives (shared by every build made with it)."""
    return paths.cache / f"jieba-{tokenizer_fingerprint}.sqlite"


def export_prefix_dict(paths: IndexPaths, tokenizer) -> None:
    """Write the tokenizer's prefix dictionary once per fingerprint (readers open it instead of loading jieba)."""
    target = prefix_dict_path(paths, tokenizer.fingerprint)
    if target.exists():
        return
    try:
        tokenizer.export_prefix_dict(target)
    except ValueError:  # a tokenizer that itself reads a prefix dictionary: nothing new to write
        pass


def write_build_files(settings, build_dir: Path, build_id: str, chunks: Sequence[Chunk], vectors: np.ndarray,
                      tokens: Sequence[Sequence[str]], embedder, progress: bool = False) -> None:
    """Everything but the manifest: chunk records, vectors, BM25 over `tokens`, the Chroma collection."""
    from index.bm25 import BM25Index

    np.save(build_dir / "vectors.npy", vectors)
    with open(build_dir / "chunks.jsonl", "w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    BM25Index.build(tokens).save(build_dir / "bm25")
    _write_chroma(settings, build_dir, build_id, chunks, vectors, embedder, progress)


def _write_chroma(settings, build_dir: Path, build_id: str, chunks: Sequence[Chunk], vectors: np.ndarray, embedder,
                  progress: bool) -> None:
    from tqdm import tqdm

    from index.store import ChromaStore, client_for

    client = client_for(settings, build_dir / "chroma")
    store = ChromaStore.create(client, collection_name(settings, build_id), embedder,
                               metadata={"build_id": build_id, "embedder_key": embedder.key})
    bar = tqdm(total=len(chunks), desc="写入向量库", unit="块", disable=not progress or len(chunks) < 1000, leave=False)
    done = [0]

    def advance(n: int) -> None:
        bar.update(n - done[0])
        done[0] = n

    try:
        store.add([c.id for c in chunks], vectors, [_chunk_metadata(c) for c in chunks],
                  [c.indexed_text for c in chunks], progress=advance)
    finally:
        bar.close()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_orphans(paths: IndexPaths, keep: set[str]) -> None:
    """Folders of builds that never finished (no manifest), e.g. killed half-way."""
    if not paths.builds.exists():
        return
    for d in paths.builds.iterdir():
        if d.is_dir() and d.name not in keep and not (d / "manifest.json").exists():
            shutil.rmtree(d, ignore_errors=True)


def _prune(settings, paths: IndexPaths, keep_latest: str) -> None:
    """Keep the served build and the one before it; drop older ones (and their server-side collections)."""
    finished = sorted((d for d in paths.builds.iterdir() if (d / "manifest.json").exists()), key=lambda d: d.name)
    old = [d for d in finished if d.name != keep_latest][: max(0, len(finished) - KEEP_BUILDS)]
    for d in old:
        if settings.chroma_mode == "persistent":
            from index.store import forget_client

            forget_client(settings, d / "chroma")
        if settings.chroma_mode == "http":
            with contextlib.suppress(Exception):
                manifest = read_manifest(d)
                if manifest.get("chroma_mode") == "http":
                    from index.store import client_for

                    client_for(settings).delete_collection(manifest["collection"])
        shutil.rmtree(d, ignore_errors=True)
    kept: set[str] = set()
    for d in paths.builds.iterdir():
        if (d / "manifest.json").exists():
            try:
                kept.add(read_manifest(d).get("tokenizer", ""))
            except (IndexCorrupt, OSError):  # a damaged old build: its dictionary is not worth keeping
                pass
    for f in paths.cache.glob("jieba-*.sqlite"):
        if f.stem.removeprefix("jieba-") not in kept:
            f.unlink(missing_ok=True)


def settings_corpus_dirs(settings) -> list[Path] | None:
    """corpus/ and the extra folders the settings name (None: the repository's corpus only)."""
    base = getattr(settings, "corpus_dir", None)
    extra = list(getattr(settings, "extra_corpus_dirs", []) or [])
    return [base, *extra] if base is not None else None


# --- status ---------------------------------------------------------------------------------------------------------
def index_status(settings) -> dict:
    """What is served: counts, embedder, corpus hash, build time; and whether the corpus changed since."""
    paths = IndexPaths(Path(settings.index_dir))
    current = paths.current_build()
    if current is None:
        return {"built": False, "index_dir": str(paths.root)}
    try:
        manifest = read_manifest(current)
    except IndexCorrupt as exc:
        return {"built": True, "index_dir": str(paths.root), "corrupt": exc.problems, "stale": True}
    problems = verify_build(current, manifest)
    status = {
        "built": True,
        "index_dir": str(paths.root),
        "build_id": manifest["build_id"],
        "built_at": manifest["built_at"],
        "build_seconds": manifest["build_seconds"],
        "documents": manifest["documents"],
        "clauses": manifest["clauses"],
        "chunks": manifest["chunks"],
        "embedder": manifest["embedder"],
        "embedder_key": manifest["embedder_key"],
        "dim": manifest["dim"],
        "corpus_hash": manifest["corpus_hash"],
        "chroma_mode": manifest["chroma_mode"],
        "collection": manifest["collection"],
        "extra_documents": manifest.get("extra_documents", []),
        "embedded_last_build": manifest.get("embedded", 0),
    }
    if problems:
        status["corrupt"] = problems
    try:
        from index.chunking import corpus_chunks
        from index.embedders import make_embedder
        from index.tokenize import default_tokenizer

        served = manifest.get("doc_hashes", {})
        now = doc_hashes(corpus_chunks(corpus_dirs=settings_corpus_dirs(settings)))
        # documents of the corpus that changed, appeared or disappeared (test-only extra documents aside)
        extra = set(manifest.get("extra_documents", []))
        status["changed_docs"] = sorted(d for d in (set(now) | set(served)) - extra if now.get(d) != served.get(d))
        status["corpus_changed"] = bool(status["changed_docs"])
        status["stale"] = status["corpus_changed"] or not _is_up_to_date(
            manifest, settings=settings, embedder_key=make_embedder(settings).key,
            tokenizer_fp=default_tokenizer().fingerprint, chash=manifest["corpus_hash"])
    except Exception as exc:  # a broken corpus file should not hide what is being served
        status["corpus_error"] = str(exc)
    return status
