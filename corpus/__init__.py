"""Policy documents, their clause parse and the subsidy rules, loaded lazily from files in this folder."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from corpus.yamlio import load_yaml

from corpus.models import Clause, Document

CORPUS_DIR = Path(__file__).parent


@lru_cache(maxsize=1)
def load_documents() -> tuple[Document, ...]:
    data = load_yaml((CORPUS_DIR / "documents.yaml").read_text(encoding="utf-8"))
    return tuple(Document.model_validate(d) for d in data["documents"])


def get_document(doc_id: str) -> Document:
    for doc in load_documents():
        if doc.id == doc_id:
            return doc
    raise KeyError(doc_id)


def clean_text(doc_id: str) -> str:
    return (CORPUS_DIR / "clean" / f"{doc_id}.txt").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_clauses() -> tuple[Clause, ...]:
    from corpus.parse import parse_document

    clauses: list[Clause] = []
    for doc in load_documents():
        clauses.extend(parse_document(doc.id, clean_text(doc.id), doc.parse_style))
    return tuple(clauses)


@lru_cache(maxsize=1)
def clause_index() -> dict[str, Clause]:
    return {c.id: c for c in load_clauses()}


def get_clause(clause_id: str) -> Clause:
    return clause_index()[clause_id]
