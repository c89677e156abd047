"""The answer guard both agents run before an answer leaves: every figure traceable, every citation real.

Rules (issue #4):
- every money figure and percentage in the answer text appears, by value, in a tool result (a calculation's
  `amount_yuan` or text, other evidence text) or in quoted clause text (`Citation.text`);
- every citation is a clause that was actually retrieved or used, quoted verbatim from the corpus;
- every inline marker [n] refers to an existing citation.

Figures are compared by value, not by string: "40万元", "400,000元", "40 万", "四十万元" and "0.004亿" are all
400000 yuan; "50%" and "百分之五十" are both 50 percent. Dates, years, clause ordinals (第三条, （三）), phone
numbers and 文号 carry no money unit and are never read as money.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping, Sequence

from tools.money import format_yuan
from tools.schema import Calculation, Citation

# --- figures: read with the one number reader (tools.money), so guard, facts and evals agree -----------------
_MARKER_RE = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]")

@dataclass(frozen=True)
class Figure:
    """A money amount (yuan) or a percentage found in text, with where it was found."""

    kind: str  # "money" | "percent"
    value: Decimal
    text: str
    start: int
    end: int


def find_money(text: str) -> list[Figure]:
    """Money figures: a number with 元 or with a 万/亿 scale ("30万", "1.5亿元", "四十万元", "5000元")."""
    return [f for f in find_figures(text) if f.kind == "money"]


def find_percents(text: str) -> list[Figure]:
    """Percentages: "20%", "0.6％", "百分之五十", "百分之12.5"; the head of "10-20%" too."""
    return [f for f in find_figures(text) if f.kind == "percent"]


def find_figures(text: str) -> list[Figure]:
    """Money and percentages in `text`, in order. Read segment by segment (see `_segments`), each segment's
    figures memoised: clause texts and fixed sentences recur in every answer that quotes them, and reading figures
    was half of an answer's time."""
    out: list[Figure] = []
    for offset, segment in _segments(text):
        figures = _segment_figures(segment)
        out.extend(figures if offset == 0 else
                   [Figure(f.kind, f.value, f.text, f.start + offset, f.end + offset) for f in figures])
    return out


# A line break is a safe place to cut a text for figure reading when the line ends in none of the characters a
# figure, its unit or a range connector can span (“20至\n50万元”, “80\n万元” stay in one segment).
_UNSAFE_LINE_END = re.compile(r"[\s\dA-Za-z_.,，%％¥￥币零〇一二两三四五六七八九十百千万亿点成块元至到\-－~～—–]$")


def _segments(text: str) -> list[tuple[int, str]]:
    """(offset, segment) pieces of `text`, cut after line breaks that no figure can span."""
    if "\n" not in text:
        return [(0, text)]
    out: list[tuple[int, str]] = []
    start = 0
    pos = text.find("\n")
    while pos != -1:
        if pos > start and not _UNSAFE_LINE_END.search(text, start, pos):
            out.append((start, text[start:pos + 1]))
            start = pos + 1
        pos = text.find("\n", pos + 1)
    if start < len(text):
        out.append((start, text[start:]))
    return out


@lru_cache(maxsize=16384)
def _segment_figures(text: str) -> tuple[Figure, ...]:
    """Figures of one segment (a pure function of its text, so memoised)."""
    from tools.money import find_money as _money, find_percents as _percents

    found = [Figure("money", Decimal(m.value_yuan), m.raw, m.start, m.end) for m in _money(text)]
    found += [Figure("percent", Decimal(m.value), m.raw, m.start, m.end) for m in _percents(text)]
    return tuple(sorted(found, key=lambda f: f.start))




# --- evidence ---------------------------------------------------------------------------------------------

@dataclass
class Evidence:
    """The figures an answer may use: values from tool results and quoted clause text."""

    money: set[Decimal]
    percents: set[Decimal]

    @classmethod
    def collect(cls, citations: Iterable[Citation], calculations: Iterable[Calculation],
                evidence_texts: Iterable[str]) -> "Evidence":
        evidence = cls(set(), set())
        for kind, value in _evidence_figures(citations, calculations, evidence_texts):
            evidence.add(kind, value)
        return evidence

    def add(self, kind: str, value: Decimal) -> None:
        (self.money if kind == "money" else self.percents).add(value)

    def supports(self, figure: Figure) -> bool:
        return figure.value in (self.money if figure.kind == "money" else self.percents)


def _evidence_figures(citations: Iterable[Citation], calculations: Iterable[Calculation],
                      evidence_texts: Iterable[str]) -> Iterator[tuple[str, Decimal]]:
    """(kind, value) of every figure the evidence holds: the calculations' own amounts and texts first (where an
    answer's figures usually come from), then the tools' evidence texts, then the quoted clauses."""
    for calc in calculations:
        # every field the calculator filled: amounts (*_yuan), steps, formula, notes, quoted clauses, validity
        for key, value in _leaves(calc.model_dump(mode="json")):
            if isinstance(value, str):
                if value:
                    yield from ((f.kind, f.value) for f in find_figures(value))
            elif key.endswith("_yuan") and isinstance(value, int) and not isinstance(value, bool):
                yield "money", Decimal(value)
    for text in [*evidence_texts, *(c.text for c in citations)]:
        if text:
            yield from ((f.kind, f.value) for f in find_figures(text))


def _untraceable(answer_text: str, citations: Sequence[Citation], calculations: Sequence[Calculation],
                 evidence_texts: Sequence[str]) -> list[Figure]:
    """`untraceable_figures(answer_text, Evidence.collect(...))`, reading the evidence only until every figure of the
    answer is found in it (support only grows as evidence is read, so stopping early changes no verdict)."""
    figures = find_figures(answer_text)
    evidence = Evidence(set(), set())
    missing = {(f.kind, f.value) for f in figures}
    if missing:
        for kind, value in _evidence_figures(citations, calculations, evidence_texts):
            evidence.add(kind, value)
            missing.discard((kind, value))
            if not missing:
                break
    return [f for f in figures if not evidence.supports(f)]


def _leaves(data, key: str = ""):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, str(k))
    elif isinstance(data, list):
        for v in data:
            yield from _leaves(v, key)
    else:
        yield key, data


def untraceable_figures(answer_text: str, evidence: Evidence) -> list[Figure]:
    return [f for f in find_figures(answer_text) if not evidence.supports(f)]


# --- citations --------------------------------------------------------------------------------------------

def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def canonical_clause_text(clause_id: str, clauses: Mapping[str, Any] | None = None) -> str | None:
    """The corpus text of a clause (from `clauses`, the catalog's, or the repository corpus), None if unknown."""
    if clauses is None:
        from corpus import clause_index

        clauses = clause_index()
    clause = clauses.get(clause_id)
    return None if clause is None else clause.text


def is_verbatim(citation: Citation, clauses: Mapping[str, Any] | None = None) -> bool | None:
    """True if the citation quotes its clause verbatim (whole or a contiguous excerpt); None if the id is unknown."""
    canonical = canonical_clause_text(citation.id, clauses)
    if canonical is None:
        return None
    quoted = _squash(citation.text)
    return bool(quoted) and quoted in _squash(canonical)


def marker_numbers(answer_text: str) -> list[int]:
    numbers: list[int] = []
    for m in _MARKER_RE.finditer(answer_text):
        numbers.extend(int(n) for n in re.split(r"\s*[,，、]\s*", m.group(1)))
    return numbers


# --- the check --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    kind: str  # "figure" | "citation_not_retrieved" | "citation_unknown" | "citation_not_verbatim" | "marker"
    message: str
    figure: Figure | None = None
    citation_index: int | None = None  # 1-based
    marker: int | None = None


def find_problems(answer_text: str, citations: Sequence[Citation], calculations: Sequence[Calculation],
                  retrieved_ids: set[str], evidence_texts: Sequence[str],
                  clauses: Mapping[str, Any] | None = None) -> list[Problem]:
    problems: list[Problem] = []
    for index, citation in enumerate(citations, start=1):
        if citation.id not in retrieved_ids:
            problems.append(Problem(
                "citation_not_retrieved",
                f"引用[{index}] {citation.id} 未经检索或工具使用 (cited clause was never retrieved or used)",
                citation_index=index))
        verbatim = is_verbatim(citation, clauses)
        if verbatim is None:
            problems.append(Problem(
                "citation_unknown", f"引用[{index}] {citation.id} 不是语料库中的条款 (unknown clause id)",
                citation_index=index))
        elif not verbatim:
            problems.append(Problem(
                "citation_not_verbatim", f"引用[{index}] {citation.id} 的引文与条款原文不一致 (quote is not verbatim)",
                citation_index=index))
    for number in sorted(set(marker_numbers(answer_text))):
        if not 1 <= number <= len(citations):
            problems.append(Problem(
                "marker", f"标注[{number}]没有对应的引用 (marker refers to no citation)", marker=number))
    # Only verified quotes count as evidence: a forged quote must not vouch for a figure.
    trusted = [c for i, c in enumerate(citations, start=1)
               if not any(p.citation_index == i for p in problems)]
    for figure in _untraceable(answer_text, trusted, calculations, evidence_texts):
        label = "金额" if figure.kind == "money" else "比例"
        problems.append(Problem(
            "figure",
            f"{label}“{figure.text}”在工具结果和引用条款中都找不到 (untraceable {figure.kind} figure)",
            figure=figure))
    return problems


def check(answer_text: str, citations: list[Citation], calculations: list[Calculation],
          retrieved_ids: set[str], evidence_texts: list[str], clauses: Mapping[str, Any] | None = None) -> list[str]:
    """Problems with an answer, in Chinese with an English gloss; an empty list means it may leave."""
    messages = [p.message for p in find_problems(answer_text, citations, calculations, retrieved_ids, evidence_texts,
                                                 clauses)]
    return list(dict.fromkeys(messages))


# --- repair -----------------------------------------------------------------------------------------------

REPAIR_NOTE = "（注：回答中无法在政策原文或测算结果中核实的内容已删除。）"
_SENTENCE_RE = re.compile(r"[^。！？!?；;\n]*(?:[。！？!?；;]+|\n|$)")


def _split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_RE.findall(text) if s]


def repair(answer_text: str, citations: Sequence[Citation], calculations: Sequence[Calculation],
           retrieved_ids: set[str], evidence_texts: Sequence[str],
           clauses: Mapping[str, Any] | None = None) -> tuple[str, list[Citation]] | None:
    """One repair attempt: drop bad citations (and their markers) and every sentence with an untraceable figure.

    A retrieved clause whose quote drifted is re-quoted from the corpus. Calculator amounts the repaired text no
    longer states are restated from the calculation. Returns None when nothing worth sending is left.
    """
    kept: list[Citation] = []
    renumber: dict[int, int] = {}
    for index, citation in enumerate(citations, start=1):
        canonical = canonical_clause_text(citation.id, clauses)
        if citation.id not in retrieved_ids or canonical is None:
            continue
        if not is_verbatim(citation, clauses):
            citation = citation.model_copy(update={"text": canonical})
        kept.append(citation)
        renumber[index] = len(kept)

    def _fix_marker(m: re.Match) -> str:
        numbers = [renumber.get(int(n)) for n in re.split(r"\s*[,，、]\s*", m.group(1))]
        numbers = [n for n in numbers if n is not None]
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers))

    text = _MARKER_RE.sub(_fix_marker, answer_text)
    evidence = Evidence.collect(kept, calculations, evidence_texts)
    sentences = _split_sentences(text)
    kept_sentences = [s for s in sentences if not untraceable_figures(s, evidence)]
    dropped = len(kept_sentences) < len(sentences)
    text = "".join(kept_sentences)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()

    stated = {f.value for f in find_money(text)}
    restated = [
        f"按政策计算器测算，{calc.program}最高可获得{format_yuan(calc.amount_yuan)}。"
        for calc in calculations
        if calc.amount_yuan is not None and calc.amount_yuan > 0 and Decimal(calc.amount_yuan) not in stated
    ]
    if restated:
        text = (text + "\n\n" if text else "") + "\n".join(restated)
    if not re.search(r"[\u4e00-\u9fff]{4,}", re.sub(r"\[\d+\]", "", text)):
        return None
    if dropped:
        text = f"{text}\n\n{REPAIR_NOTE}"
    # cited-but-unmarked citations stay only if still referenced
    used = set(marker_numbers(text))
    if used != set(range(1, len(kept) + 1)):
        final: list[Citation] = []
        second: dict[int, int] = {}
        for index, citation in enumerate(kept, start=1):
            if index in used:
                final.append(citation)
                second[index] = len(final)
        text = _MARKER_RE.sub(
            lambda m: "".join(f"[{second[int(n)]}]" for n in re.split(r"\s*[,，、]\s*", m.group(1))
                              if int(n) in second), text)
        kept = final
    return text, kept
