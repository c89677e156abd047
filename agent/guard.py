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
from decimal import Decimal
from typing import Iterable, Sequence

from tools.money import format_yuan
from tools.schema import Calculation, Citation

# --- number normaliser -----------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG_UNITS = {"万": 10**4, "亿": 10**8}
_SUFFIX_MULTIPLIER = {"千万": 10**7, "百万": 10**6, "万亿": 10**12, "亿": 10**8, "万": 10**4, "千": 10**3}

_AR = r"\d{1,3}(?:[,，]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CN = r"[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*"
# A figure directly followed by one of these counts things, not money ("50万人", "3万家").
_COUNTERS = "人家个台套项户次件名字平㎡册条份张篇亩吨辆座栋款位"

_MONEY_RE = re.compile(
    rf"(?<![\d.A-Za-z])(?P<num>{_AR}|{_CN})\s*(?P<unit>千万|百万|万亿|亿|万|千)?\s*(?P<yuan>元|块钱)?"
)
_PERCENT_RE = re.compile(
    rf"(?<![\d.A-Za-z])(?P<num>{_AR})\s*[%％]|百分之(?P<cn>{_AR}|[零〇一二两三四五六七八九十百点]+)"
)
_RANGE_HEAD_RE = re.compile(rf"(?<![\d.A-Za-z])(?P<num>{_AR}|{_CN})\s*(?:至|到|-|－|~|～|—|–)\s*$")
_MARKER_RE = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]")


def parse_cn_integer(text: str) -> int | None:
    """"四十万" → 400000, "一亿二千万" → 120000000, "十五" → 15; None if not a Chinese numeral."""
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_SMALL_UNITS:
            section += (1 if digit is None else digit) * _CN_SMALL_UNITS[ch]
            digit = None
        elif ch in _CN_BIG_UNITS:
            section += digit or 0
            unit = _CN_BIG_UNITS[ch]
            total = (total + section) * unit if unit > 10**4 else total + section * unit
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def _parse_number(text: str) -> Decimal | None:
    text = text.replace(",", "").replace("，", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return Decimal(text)
    if "点" in text:  # 百分之十二点五
        whole, _, frac = text.partition("点")
        whole_value = parse_cn_integer(whole) if whole else 0
        if whole_value is None or not all(c in _CN_DIGITS for c in frac):
            return None
        return Decimal(f"{whole_value}.{''.join(str(_CN_DIGITS[c]) for c in frac)}")
    value = parse_cn_integer(text)
    return None if value is None else Decimal(value)


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
    found: list[Figure] = []
    for m in _MONEY_RE.finditer(text):
        num, unit, yuan = m.group("num"), m.group("unit"), m.group("yuan")
        is_cn = not num[0].isdigit()
        if is_cn and not yuan and not re.search("[万亿]", num + (unit or "")):
            continue
        if not is_cn and not yuan and unit not in ("万", "亿", "千万", "百万", "万亿"):
            continue
        after = text[m.end(): m.end() + 1]
        if not yuan and after and after in _COUNTERS:
            continue
        value = _parse_number(num)
        if value is None:
            continue
        multiplier = _SUFFIX_MULTIPLIER.get(unit or "", 1)
        found.append(Figure("money", value * multiplier, m.group(0).strip(), m.start(), m.end()))
        # "20至50万元": the head of a range shares the tail's unit
        head = _RANGE_HEAD_RE.search(text[: m.start()])
        if head and multiplier != 1:
            head_value = _parse_number(head.group("num"))
            if head_value is not None and not any(f.start == head.start() for f in found):
                found.append(Figure("money", head_value * multiplier, head.group(0).strip(), head.start(), m.start()))
    return sorted(found, key=lambda f: f.start)


def find_percents(text: str) -> list[Figure]:
    """Percentages: "20%", "0.6％", "百分之五十", "百分之12.5"; the head of "10-20%" too."""
    found: list[Figure] = []
    for m in _PERCENT_RE.finditer(text):
        raw = m.group("num") or m.group("cn")
        value = _parse_number(raw)
        if value is None:
            continue
        found.append(Figure("percent", value, m.group(0), m.start(), m.end()))
        head = _RANGE_HEAD_RE.search(text[: m.start()])
        if head and m.group("num"):
            head_value = _parse_number(head.group("num"))
            if head_value is not None:
                found.append(Figure("percent", head_value, head.group(0).strip(), head.start(), m.start()))
    return sorted(found, key=lambda f: f.start)


def find_figures(text: str) -> list[Figure]:
    return sorted(find_money(text) + find_percents(text), key=lambda f: f.start)




# --- evidence ---------------------------------------------------------------------------------------------

@dataclass
class Evidence:
    """The figures an answer may use: values from tool results and quoted clause text."""

    money: set[Decimal]
    percents: set[Decimal]

    @classmethod
    def collect(cls, citations: Iterable[Citation], calculations: Iterable[Calculation],
                evidence_texts: Iterable[str]) -> "Evidence":
        money: set[Decimal] = set()
        percents: set[Decimal] = set()
        texts: list[str] = list(evidence_texts)
        texts.extend(c.text for c in citations)
        for calc in calculations:
            # every field the calculator filled: amounts (*_yuan), steps, formula, notes, quoted clauses, validity
            for key, value in _leaves(calc.model_dump(mode="json")):
                if isinstance(value, str):
                    texts.append(value)
                elif key.endswith("_yuan") and isinstance(value, int) and not isinstance(value, bool):
                    money.add(Decimal(value))
        for text in texts:
            if not text:
                continue
            money.update(f.value for f in find_money(text))
            percents.update(f.value for f in find_percents(text))
        return cls(money, percents)

    def supports(self, figure: Figure) -> bool:
        return figure.value in (self.money if figure.kind == "money" else self.percents)


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


def canonical_clause_text(clause_id: str) -> str | None:
    """The corpus text of a clause, or None when the id is not a corpus clause."""
    from corpus import clause_index

    clause = clause_index().get(clause_id)
    return None if clause is None else clause.text


def is_verbatim(citation: Citation) -> bool | None:
    """True if the citation quotes its clause verbatim (whole or a contiguous excerpt); None if the id is unknown."""
    canonical = canonical_clause_text(citation.id)
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
                  retrieved_ids: set[str], evidence_texts: Sequence[str]) -> list[Problem]:
    problems: list[Problem] = []
    for index, citation in enumerate(citations, start=1):
        if citation.id not in retrieved_ids:
            problems.append(Problem(
                "citation_not_retrieved",
                f"引用[{index}] {citation.id} 未经检索或工具使用 (cited clause was never retrieved or used)",
                citation_index=index))
        verbatim = is_verbatim(citation)
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
    evidence = Evidence.collect(trusted, calculations, evidence_texts)
    for figure in untraceable_figures(answer_text, evidence):
        label = "金额" if figure.kind == "money" else "比例"
        problems.append(Problem(
            "figure",
            f"{label}“{figure.text}”在工具结果和引用条款中都找不到 (untraceable {figure.kind} figure)",
            figure=figure))
    return problems


def check(answer_text: str, citations: list[Citation], calculations: list[Calculation],
          retrieved_ids: set[str], evidence_texts: list[str]) -> list[str]:
    """Problems with an answer, in Chinese with an English gloss; an empty list means it may leave."""
    messages = [p.message for p in find_problems(answer_text, citations, calculations, retrieved_ids, evidence_texts)]
    return list(dict.fromkeys(messages))


# --- repair -----------------------------------------------------------------------------------------------

REPAIR_NOTE = "（注：回答中无法在政策原文或测算结果中核实的内容已删除。）"
_SENTENCE_RE = re.compile(r"[^。！？!?；;\n]*(?:[。！？!?；;]+|\n|$)")


def _split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_RE.findall(text) if s]


def repair(answer_text: str, citations: Sequence[Citation], calculations: Sequence[Calculation],
           retrieved_ids: set[str], evidence_texts: Sequence[str]) -> tuple[str, list[Citation]] | None:
    """One repair attempt: drop bad citations (and their markers) and every sentence with an untraceable figure.

    A retrieved clause whose quote drifted is re-quoted from the corpus. Calculator amounts the repaired text no
    longer states are restated from the calculation. Returns None when nothing worth sending is left.
    """
    kept: list[Citation] = []
    renumber: dict[int, int] = {}
    for index, citation in enumerate(citations, start=1):
        canonical = canonical_clause_text(citation.id)
        if citation.id not in retrieved_ids or canonical is None:
            continue
        if not is_verbatim(citation):
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
