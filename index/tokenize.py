"""Chinese tokenisation for the lexical side: jieba with a policy user dictionary, synonyms and query expansion.

Nothing loads at import; jieba's dictionary is built on first use (about half a second) in a private
`jieba.Tokenizer`, so other roles' use of jieba is unaffected.
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

from corpus.yamlio import load_yaml

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TERMS_FILE = HERE / "terms.txt"
SYNONYMS_FILE = HERE / "synonyms.yaml"
STOPWORDS_FILE = HERE / "stopwords.txt"

# Weight of a query-side expansion term relative to a word the user typed (tuned on the eval's tune split).
EXPANSION_WEIGHT = 0.5
# Program names longer than this are left to jieba (their 2-/3-character parts are still found).
MAX_PROGRAM_TERM_CHARS = 10
# jieba HMM new-word discovery (off: unknown words and typos fall apart into characters instead of odd merges)
HMM = True

_KEEP = re.compile(r"[\w\u4e00-\u9fff+]", re.UNICODE)


def normalize_text(text: str) -> str:
    """NFKC (full-width → half-width), lower case, collapsed whitespace."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).lower().strip()


def program_terms() -> list[str]:
    """Names and aliases of the subsidy programs in corpus/rules (empty if the rules cannot be loaded)."""
    try:
        from tools.catalog import default_catalog

        programs = default_catalog().programs
    except Exception as exc:  # rules are another role's data; retrieval works without them
        log.info("program terms unavailable (%s); using the curated dictionary only", exc)
        return []
    terms: list[str] = []
    for program in programs:
        for name in [getattr(program, "name", ""), *(getattr(program, "aliases", None) or [])]:
            for part in re.split(r"[\s/、，,；;（）()“”\"]+", normalize_text(str(name))):
                if 2 <= len(part) <= MAX_PROGRAM_TERM_CHARS:
                    terms.append(part)
    return sorted(set(terms))


@dataclass
class QueryTokens:
    """A query's tokens: `typed` from the words as written, `expanded` added by synonym expansion."""

    typed: list[str]
    expanded: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)  # typed tokens before synonym folding (substrings of the text)

    def weights(self, expansion_weight: float = EXPANSION_WEIGHT) -> dict[str, float]:
        out = {t: 1.0 for t in self.typed}
        for t in self.expanded:
            out.setdefault(t, expansion_weight)
        return out


class PrefixDict:
    """jieba's prefix dictionary (word → frequency; 0 for a prefix that is not a word itself) read from SQLite on
    demand and memoised, instead of unmarshalling all ~500,000 entries (0.5–1 s) before the first cut.

    Segmenting a sentence looks up only the prefixes of its own substrings, so a one-shot command or a fresh
    server worker pays microseconds per new substring. Words added at run time live in memory.
    """

    _MISSING = object()
    MAX_MEMO = 500_000  # looked-up entries kept; the memo is cleared past this (words added at run time are kept)

    def __init__(self, path: Path):
        import sqlite3

        self.path = Path(path)
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._memo: dict[str, int | None] = {}
        self._added: dict[str, int] = {}
        self.total = int(self._db.execute("SELECT v FROM meta WHERE k='total'").fetchone()[0])

    def _lookup(self, word: str) -> int | None:
        value = self._memo.get(word, self._MISSING)
        if value is self._MISSING:
            value = self._added.get(word)
            if value is None:
                with self._lock:
                    row = self._db.execute("SELECT f FROM freq WHERE w=?", (word,)).fetchone()
                value = None if row is None else int(row[0])
            if len(self._memo) >= self.MAX_MEMO:
                self._memo.clear()
            self._memo[word] = value
        return value  # type: ignore[return-value]

    def __contains__(self, word: str) -> bool:
        return self._lookup(word) is not None

    def __getitem__(self, word: str) -> int:
        value = self._lookup(word)
        if value is None:
            raise KeyError(word)
        return value

    def get(self, word: str, default=None):
        value = self._lookup(word)
        return default if value is None else value

    def __setitem__(self, word: str, freq: int) -> None:
        self._added[word] = freq
        self._memo[word] = freq

    @staticmethod
    def write(path: Path, freq: dict[str, int], total: int) -> None:
        """Store a full prefix dictionary (atomically: a reader never sees a half-written file)."""
        import os
        import sqlite3
        import uuid

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
        db = sqlite3.connect(tmp)
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("CREATE TABLE freq (w TEXT PRIMARY KEY, f INTEGER NOT NULL) WITHOUT ROWID")
            db.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            db.executemany("INSERT INTO freq VALUES (?, ?)", freq.items())
            db.execute("INSERT INTO meta VALUES ('total', ?)", (str(int(total)),))
            db.commit()
        finally:
            db.close()
        os.replace(tmp, path)


def _lazy_jieba(prefix: PrefixDict):
    """A jieba.Tokenizer whose prefix dictionary is `prefix` (already initialised: nothing is loaded)."""
    import jieba

    tk = jieba.Tokenizer()
    tk.FREQ = prefix
    tk.total = prefix.total
    tk.initialized = True
    return tk


class PolicyTokenizer:
    """jieba `cut_for_search` over normalised text, with the policy dictionary, stopwords and synonyms.

    `prefix_dict`: a prefix dictionary written by `export_prefix_dict` (the index build writes one per tokenizer
    fingerprint) to segment with instead of loading jieba's dictionary and adding the policy terms; same tokens.
    """

    def __init__(self, *, extra_terms: Iterable[str] = (), use_program_terms: bool = True, hmm: bool = HMM,
                 prefix_dict: Path | None = None):
        self._extra_terms = list(extra_terms)
        self._use_program_terms = use_program_terms
        self._hmm = hmm
        self._prefix_path = Path(prefix_dict) if prefix_dict else None
        self._lock = threading.Lock()
        self._jieba = None

    # --- data -------------------------------------------------------------------------------------------
    @cached_property
    def curated_terms(self) -> list[tuple[str, int | None, str | None]]:
        terms = []
        for line in TERMS_FILE.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            word = normalize_text(parts[0])
            freq = int(parts[1]) if len(parts) > 1 else None
            tag = parts[2] if len(parts) > 2 else None
            terms.append((word, freq, tag))
        return terms

    @cached_property
    def program_terms(self) -> list[str]:
        return program_terms() if self._use_program_terms else []

    @cached_property
    def synonyms(self) -> dict:
        data = load_yaml(SYNONYMS_FILE.read_text(encoding="utf-8")) or {}
        normalize = {normalize_text(k): normalize_text(v) for k, v in (data.get("normalize") or {}).items()}
        canonical: dict[str, str] = {}
        for group in data.get("equivalents") or []:
            head = normalize_text(str(group[0]))
            for word in group:
                canonical[normalize_text(str(word))] = head
        expand = {normalize_text(str(k)): [normalize_text(str(w)) for w in v] for k, v in (data.get("expand") or {}).items()}
        return {"normalize": normalize, "canonical": canonical, "expand": expand}

    @cached_property
    def stopwords(self) -> frozenset[str]:
        words = [w.strip() for w in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()]
        return frozenset(w for w in words if w and not w.startswith("#"))

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever tokens could change: dictionary, synonyms, stopwords, program terms, jieba version."""
        import jieba

        h = hashlib.sha256()
        for path in (TERMS_FILE, SYNONYMS_FILE, STOPWORDS_FILE):
            h.update(path.read_bytes())
        h.update("\n".join(self.program_terms + self._extra_terms).encode())
        h.update(f"{jieba.__version__}|hmm={self._hmm}".encode())
        return h.hexdigest()[:16]

    # --- jieba --------------------------------------------------------------------------------------------
    def _tokenizer(self):
        if self._jieba is None:
            with self._lock:
                if self._jieba is None and self._prefix_path is not None:
                    self._jieba = _lazy_jieba(PrefixDict(self._prefix_path))
                if self._jieba is None:
                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    tk = jieba.Tokenizer()
                    tk.initialize()
                    for word, freq, tag in self.curated_terms:
                        tk.add_word(word, freq or 1000, tag)
                    for word in [*self.program_terms, *self._extra_terms]:
                        tk.add_word(normalize_text(word), 1000)
                    self._jieba = tk
        return self._jieba

    def warm_up(self) -> None:
        """Open the dictionary and segment a sample (the first cut also compiles jieba's patterns)."""
        self.query("预热 申请补助")

    def export_prefix_dict(self, path: Path) -> Path:
        """Write this tokenizer's full prefix dictionary (jieba's plus the policy terms) for `prefix_dict`."""
        tk = self._tokenizer()
        if isinstance(tk.FREQ, PrefixDict):
            raise ValueError("a tokenizer reading a prefix dictionary cannot export one")
        PrefixDict.write(Path(path), tk.FREQ, tk.total)
        return Path(path)

    def add_terms(self, words: Iterable[str]) -> None:
        """Add words at runtime (e.g. program aliases that landed after start-up)."""
        tk = self._tokenizer()
        for word in words:
            tk.add_word(normalize_text(word), 1000)

    # --- tokens -----------------------------------------------------------------------------------------
    def _prepare(self, text: str) -> str:
        text = normalize_text(text)
        for src, dst in self.synonyms["normalize"].items():
            if src in text:
                text = text.replace(src, dst)
        return text

    def _raw(self, text: str) -> list[str]:
        """jieba search-mode tokens, plus every dictionary word inside a longer token.

        jieba's own search mode adds only the 2- and 3-character words inside a long word; a dictionary phrase
        such as 购买算力服务 would otherwise hide 算力服务 from queries that use it.
        """
        tk = self._tokenizer()
        tokens = []
        for tok in tk.cut_for_search(text, HMM=self._hmm):
            tok = tok.strip()
            if not tok or not _KEEP.search(tok):
                continue
            if tok not in self.stopwords:
                tokens.append(tok)
            if len(tok) > 4:
                for n in range(4, len(tok)):
                    for i in range(len(tok) - n + 1):
                        sub = tok[i:i + n]
                        if tk.FREQ.get(sub) and sub not in self.stopwords:
                            tokens.append(sub)
        return tokens

    def canonical(self, token: str) -> str:
        return self.synonyms["canonical"].get(token, token)

    def tokens(self, text: str) -> list[str]:
        """Tokens of a passage (or of a query without expansion), synonyms folded to their class head."""
        return [self.canonical(t) for t in self._raw(self._prepare(text))]

    def query(self, text: str) -> QueryTokens:
        prepared = self._prepare(text)
        raw = self._raw(prepared)
        typed = [self.canonical(t) for t in raw]
        raw_set = set(raw)
        expanded: list[str] = []
        for key, targets in self.synonyms["expand"].items():
            # Chinese keys of two or more characters match anywhere in the text, Latin keys as whole words,
            # one-character keys only as whole tokens
            if key.isascii():
                hit = re.search(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])", prepared) is not None
            else:
                hit = key in raw_set if len(key) < 2 else key in prepared
            if hit:
                for target in targets:
                    for tok in self._raw(target):
                        tok = self.canonical(tok)
                        if tok not in typed and tok not in expanded:
                            expanded.append(tok)
        return QueryTokens(typed=_dedupe(typed), expanded=expanded, raw=_dedupe(raw))


def _dedupe(tokens: list[str]) -> list[str]:
    return list(dict.fromkeys(tokens))


_default: PolicyTokenizer | None = None
_default_lock = threading.Lock()


def default_tokenizer() -> PolicyTokenizer:
    """The process-wide tokenizer (built lazily)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PolicyTokenizer()
        return _default
