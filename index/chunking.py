"""Clauses → chunks. One chunk per clause; long clauses are split at numbered items or headings, never mid-sentence."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from index.types import Chunk

# A clause longer than this (characters of verbatim text) is split. The corpus's longest body clause is ~300
# characters; only form attachments exceed it. e5 reads 512 tokens, so ~500 characters keeps a slice whole.
MAX_CHUNK_CHARS = 500
OWN_SLICE_CHARS = 150

# Lines a slice may start with: numbered items ("1、", "2.", "（3）", "四、") and short headings ending with a colon
# ("算力服务补助方向：").
_ITEM_START = re.compile(r"^(?:\d{1,2}[、.．]|（[0-9一二三四五六七八九十]{1,3}）|\([0-9]{1,2}\)|[一二三四五六七八九十]{1,3}、)")
_HEADING = re.compile(r"^.{1,20}[:：]$")
_SENTENCE_END = re.compile(r"(?<=[。；;！？!?])")


@dataclass(frozen=True)
class DocMeta:
    """The document fields a chunk carries."""

    id: str
    title: str
    doc_number: str
    region: str
    region_path: tuple[str, ...]
    level: str
    effective_from: dt.date
    effective_to: dt.date

    @classmethod
    def from_any(cls, doc: Any) -> "DocMeta":
        """From a corpus.models.Document or a plain mapping with the same field names."""
        get = doc.get if isinstance(doc, Mapping) else lambda k, default=None: getattr(doc, k, default)
        region_path = tuple(get("region_path", None) or (get("region"),))
        # a Document's search span (its in-force period, or for a call notice its window), else the mapping's dates
        span = get("span", None) or (get("effective_from"), get("effective_to"))
        return cls(
            id=get("id"),
            title=get("title"),
            doc_number=get("doc_number", "") or "",
            region=get("region"),
            region_path=region_path,
            level=get("level"),
            effective_from=_date(span[0]),
            effective_to=_date(span[1]),
        )


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _is_boundary(line: str) -> bool:
    return bool(_ITEM_START.match(line) or _HEADING.match(line))


def _split_sentences(line: str, limit: int) -> list[str]:
    """A single over-long line cut after sentence ends (。；！？), never inside a sentence."""
    sentences = [s for s in _SENTENCE_END.split(line) if s]
    pieces: list[str] = []
    current = ""
    for sentence in sentences:
        if current and len(current) + len(sentence) > limit:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    return pieces


def _group(lines: list[str], starts) -> list[list[str]]:
    """Runs of lines, a new run beginning at each line for which `starts(line)` is true."""
    groups: list[list[str]] = []
    for line in lines:
        if not groups or starts(line):
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups


def split_text(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Contiguous slices of `text`, each no longer than `limit` where the text allows.

    Slices start at numbered items or headings when possible; a block that is still too long is cut between
    lines, and a single over-long line after sentence ends. Every slice is a verbatim substring of `text`.
    """
    if len(text) <= limit:
        return [text]
    # Units (joiner to the previous unit, verbatim text, must start a new slice).
    units: list[tuple[str, str, bool]] = []
    for section in _group(text.split("\n"), _HEADING.match):
        section_text = "\n".join(section)
        if len(section_text) <= limit:
            # a substantial headed section ("算力服务补助方向：…") gets a slice of its own
            units.append(("\n", section_text, bool(_HEADING.match(section[0])) and len(section_text) >= OWN_SLICE_CHARS))
            continue
        for block in _group(section, _is_boundary):
            if len("\n".join(block)) <= limit:
                units.append(("\n", "\n".join(block), False))
                continue
            for line in block:
                for j, sentence in enumerate(_split_sentences(line, limit)):
                    units.append(("\n" if j == 0 else "", sentence, False))
    slices: list[str] = []
    current = ""
    for joiner, unit, fresh in units:
        if current and (fresh or len(current) + len(joiner) + len(unit) > limit):
            slices.append(current)
            current = ""
        current = f"{current}{joiner}{unit}" if current else unit
    if current:
        slices.append(current)
    return slices


def chunk_clauses(clauses: Iterable[Any], documents: Mapping[str, DocMeta], *, extra_ids: frozenset[str] = frozenset(),
                  limit: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """Chunks for clauses (corpus.models.Clause or mappings with id, doc_id, labels/label_path, kind, text)."""
    chunks: list[Chunk] = []
    for clause in clauses:
        get = clause.get if isinstance(clause, Mapping) else lambda k, default=None: getattr(clause, k, default)
        doc = documents[get("doc_id")]
        labels = get("labels", None)
        label_path = " > ".join(labels) if labels else (get("label_path", "") or "")
        text = get("text")
        pieces = split_text(text, limit)
        for n, piece in enumerate(pieces, start=1):
            split = len(pieces) > 1
            chunks.append(
                Chunk(
                    id=f"{get('id')}#{n}" if split else get("id"),
                    clause_id=get("id"),
                    doc_id=doc.id,
                    document=doc.title,
                    doc_number=doc.doc_number,
                    clause=label_path,
                    section=piece.split("\n", 1)[0][:40] if split and n > 1 else "",
                    text=piece,
                    kind=get("kind", "body") or "body",
                    region=doc.region,
                    region_path=doc.region_path,
                    level=doc.level,
                    effective_from=doc.effective_from.isoformat(),
                    effective_to=doc.effective_to.isoformat(),
                    order=len(chunks),
                    part=n,
                    parts=len(pieces),
                    extra=doc.id in extra_ids,
                )
            )
    return chunks


def corpus_chunks(extra_clauses: Sequence[Any] = (), extra_documents: Sequence[Any] = (), *,
                  corpus_dirs: Sequence[Any] | None = None) -> list[Chunk]:
    """Chunks of the whole corpus plus any test-only clauses (with their documents' metadata). `corpus_dirs` are
    the settings' corpus folders (corpus/ and folders of added notices), indexed as corpus documents."""
    from corpus import CORPUS_DIR, load_clauses, load_documents

    base_clauses: list[Any] = list(load_clauses())
    documents = {d.id: DocMeta.from_any(d) for d in load_documents()}
    if corpus_dirs:
        from pathlib import Path

        base_clauses, documents = [], {}
        for folder in corpus_dirs:
            if Path(folder).resolve() == CORPUS_DIR.resolve():
                more_clauses, more_docs = list(load_clauses()), list(load_documents())
            else:
                more_clauses, more_docs = load_extra_corpus(folder)
            base_clauses += more_clauses
            for d in more_docs:
                meta = DocMeta.from_any(d)
                if meta.id in documents:
                    raise ValueError(f"document id used twice in the corpus folders: {meta.id}")
                documents[meta.id] = meta
    extra_docs = {m.id: m for m in (DocMeta.from_any(d) for d in extra_documents)}
    clash = set(extra_docs) & set(documents)
    if clash:
        raise ValueError(f"extra documents reuse corpus ids: {sorted(clash)}")
    documents.update(extra_docs)
    missing = {(c.get("doc_id") if isinstance(c, Mapping) else c.doc_id) for c in extra_clauses} - set(documents)
    if missing:
        raise ValueError(f"extra clauses refer to unknown documents: {sorted(missing)}")
    return chunk_clauses([*base_clauses, *extra_clauses], documents, extra_ids=frozenset(extra_docs))


def load_extra_corpus(directory) -> tuple[list[Any], list[Any]]:
    """(clauses, documents) from a folder laid out like corpus/: documents.yaml + clean/<id>.txt.

    documents.yaml holds full document entries (corpus/models.py Document, as `docs add` writes them) or, for
    evals' test-only documents, just: id, title, region, level, effective_from, effective_to (optional doc_number,
    region_path).
    """
    from pathlib import Path

    from corpus.yamlio import load_yaml

    from corpus.models import ParseStyle
    from corpus.parse import parse_document

    root = Path(directory)
    if not (root / "documents.yaml").exists():
        return [], []
    data = load_yaml((root / "documents.yaml").read_text(encoding="utf-8")) or {}
    from corpus.models import Document

    documents = [Document.model_validate(d) if "seed_file" in d else d for d in data.get("documents", [])]
    clauses: list[Any] = []
    for doc in documents:
        get = doc.get if isinstance(doc, dict) else lambda k: getattr(doc, k)
        text = (root / "clean" / f"{get('id')}.txt").read_text(encoding="utf-8")
        style = get("parse_style")
        if isinstance(style, dict):
            style = ParseStyle.model_validate(style)
        clauses.extend(parse_document(get("id"), text, style))
    return clauses, documents
