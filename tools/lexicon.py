"""The words the agent reads questions with, as validated data (corpus/lexicon/*.yaml), and the text normaliser.

Everything that names a place, an intent, a cue, a typo or an English term lives in the YAML; this module knows
only their shapes. `Normalizer` turns what people type (traditional characters, full-width digits, English terms,
common misspellings) into the simplified Chinese the rest of the pipeline reads.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml

from corpus.yamlio import load_yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from tools.errors import PolicyError


class LexiconError(PolicyError):
    code = "lexicon_error"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # schemas build on first validation


class Place(Strict):
    name: str
    aliases: list[str]


class RegionDef(Strict):
    key: str
    name: str
    level: Literal["province", "city", "district"]
    parent: str | None = None
    docs: list[str]
    aliases: list[str]
    places: list[Place] = []


class RegionAttach(Strict):
    """Documents of an extra folder that govern a region defined elsewhere (a new 厦门 notice in its own folder)."""

    key: str
    docs: list[str]


class RegionsFile(Strict):
    regions: list[RegionDef] = []
    attach: list[RegionAttach] = []
    own_policy_words: list[str] = []
    own_policy_strong: list[str] = []
    outside_extra: list[str] = []


class IntentsFile(Strict):
    priority: list[str]
    intents: dict[str, list[str]]
    # regular expressions for cues that are split by the words they ask about (“能报这次…补助吗”)
    patterns: dict[str, list[str]] = {}


class YearLabel(Strict):
    words: list[str]
    offset: int


class WordsFile(Strict):
    strong_policy_words: list[str]
    policy_words: list[str]
    filler: list[str]
    negations: list[str]
    question_before: list[str]
    question_after: list[str]
    unknown_answers: list[str]
    hearsay: list[str]
    subjects: list[str]
    policy_quote: list[str]
    breakdown: list[str]
    corrections: list[str]
    history: list[str]
    award_words: list[str] = []
    term_questions: list[str] = []
    spend_verbs: list[str]
    amount_words: list[str]
    zero_words: list[str] = []
    distractors: list[str]
    year_labels: list[YearLabel]
    same_year: list[str] = []
    year_parts: list[str]
    year_part_sets: list[list[str]] = []
    year_part_lists: dict[str, int] = {}
    activity_verbs: list[str] = []
    period_questions: list[str] = []
    intent_masks: list[str] = []
    total_words: list[str] = []
    follow_up_additions: list[str] = []
    running_total_words: list[str] = []
    quote_before: list[str]
    threshold_before: list[str]
    threshold_after: list[str]
    add_on: list[str]
    plan_words: list[str]
    greetings: list[str]
    item_markers: list[str] = []
    out_of_scope: list[str]
    latin_terms: list[str] = []
    examples: dict[str, str] = {}
    english_summary_prefix: str = "Summary"


class TyposFile(Strict):
    typos: dict[str, str]


class BilingualFile(Strict):
    terms: dict[str, str]


class InjectionFile(Strict):
    patterns: list[str]
    rule_edits: list[str] = []


def _read(path: Path, model: type[BaseModel]) -> Any:
    if not path.exists():
        raise LexiconError(f"缺少词表文件 {path}")
    try:
        return model.model_validate(load_yaml(path.read_text(encoding="utf-8")) or {})
    except yaml.YAMLError as exc:
        raise LexiconError(f"词表文件 {path.name} 不是合法的YAML：{exc}") from exc
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:6])
        raise LexiconError(f"词表文件 {path.name} 格式错误：{errs}") from exc


@dataclass
class Lexicon:
    """All cue words, regions and patterns, validated. Extra lexicon folders (a new document's) merge in."""

    regions: list[RegionDef]
    own_policy_words: list[str]
    own_policy_strong: list[str]
    outside_extra: list[str]
    intents: IntentsFile
    words: WordsFile
    typos: dict[str, str]
    bilingual: dict[str, str]
    injection: InjectionFile
    places_path: Path

    @classmethod
    def load(cls, directory: Path, extra_dirs: tuple[Path, ...] = ()) -> "Lexicon":
        regions = _read(directory / "regions.yaml", RegionsFile)
        attach = list(regions.attach)
        lex = cls(
            regions=list(regions.regions),
            own_policy_words=list(regions.own_policy_words),
            own_policy_strong=list(regions.own_policy_strong),
            outside_extra=list(regions.outside_extra),
            intents=_read(directory / "intents.yaml", IntentsFile),
            words=_read(directory / "words.yaml", WordsFile),
            typos=dict(_read(directory / "typos.yaml", TyposFile).typos),
            bilingual=dict(_read(directory / "bilingual.yaml", BilingualFile).terms),
            injection=_read(directory / "injection.yaml", InjectionFile),
            places_path=directory / "places.yaml",
        )
        for extra in extra_dirs:
            if (extra / "regions.yaml").exists():
                more = _read(extra / "regions.yaml", RegionsFile)
                lex.regions.extend(more.regions)
                attach.extend(more.attach)
                lex.own_policy_words.extend(more.own_policy_words)
                lex.outside_extra.extend(more.outside_extra)
            if (extra / "typos.yaml").exists():
                lex.typos.update(_read(extra / "typos.yaml", TyposFile).typos)
            if (extra / "bilingual.yaml").exists():
                lex.bilingual.update(_read(extra / "bilingual.yaml", BilingualFile).terms)
        for a in attach:
            i = next((i for i, r in enumerate(lex.regions) if r.key == a.key), None)
            if i is None:
                raise LexiconError(f"attach 指向未定义的地区 {a.key}")
            lex.regions[i] = lex.regions[i].model_copy(update={"docs": [*lex.regions[i].docs, *a.docs]})
        lex.check()
        return lex

    def check(self) -> None:
        keys = [r.key for r in self.regions]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise LexiconError(f"地区编号重复：{sorted(dupes)}")
        for r in self.regions:
            if r.parent and r.parent not in keys:
                raise LexiconError(f"地区 {r.key} 的上级 {r.parent} 未定义")
        unknown = set(self.intents.priority) ^ set(self.intents.intents)
        if unknown:
            raise LexiconError(f"意图词表与优先级列表不一致：{sorted(unknown)}")
        for pattern in [*self.injection.patterns, *self.injection.rule_edits]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise LexiconError(f"注入检测正则有误“{pattern}”：{exc}") from exc

    # --- derived lookups -----------------------------------------------------------------------------
    @cached_property
    def region_by_key(self) -> dict[str, RegionDef]:
        return {r.key: r for r in self.regions}

    @cached_property
    def region_names(self) -> list[tuple[str, str]]:
        """(surface form, region key), longest first: region aliases and the places inside each region."""
        pairs = [(a.lower(), r.key) for r in self.regions for a in r.aliases]
        pairs += [(a.lower(), r.key) for r in self.regions for p in r.places for a in p.aliases]
        return sorted(set(pairs), key=lambda p: -len(p[0]))

    @cached_property
    def place_names(self) -> list[tuple[str, str, str]]:
        """(surface form, place name, region key) for places without documents of their own, longest first."""
        out = [(a.lower(), p.name, r.key) for r in self.regions for p in r.places for a in p.aliases]
        return sorted(out, key=lambda t: -len(t[0]))

    @cached_property
    def injection_res(self) -> list[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self.injection.patterns]

    @cached_property
    def rule_edit_res(self) -> list[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self.injection.rule_edits]

    @cached_property
    def gazetteer(self):
        from corpus.places import load_gazetteer

        if not self.places_path.exists():
            raise LexiconError(f"缺少地名表 {self.places_path}")
        return load_gazetteer(self.places_path)


class Normalizer:
    """Question text as the pipeline reads it: simplified, NFKC, English terms and typos mapped, spaces collapsed."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        terms = sorted(lexicon.bilingual.items(), key=lambda kv: -len(kv[0]))
        self._english = re.compile(
            r"(?<![A-Za-z])(" + "|".join(re.escape(k) for k, _ in terms) + r")(?![A-Za-z])", re.IGNORECASE
        ) if terms else None
        self._english_map = {k.lower(): v for k, v in terms}
        self._typos = sorted(lexicon.typos.items(), key=lambda kv: -len(kv[0]))

    @cached_property
    def _t2s(self):
        import opencc

        return opencc.OpenCC("t2s")

    @staticmethod
    def has_english(text: str) -> bool:
        """Mostly an English sentence: at least three Latin words and more Latin letters than Chinese characters (a
        Chinese question naming OCR, API and MaaS is still Chinese)."""
        latin = len(re.findall(r"[A-Za-z]", text))
        return len(re.findall(r"[A-Za-z]{2,}", text)) >= 3 and latin > len(re.findall(r"[\u3400-\u9fff]", text))

    def normalize(self, text: str) -> str:
        from tools.money import plain_numerals

        # circled item numbers (①②…) separate items; NFKC would turn them into digits that run into a year (①2025年)
        text = re.sub(r"[\u2460-\u2473\u2776-\u277f]", "；", text)
        text = unicodedata.normalize("NFKC", text)
        text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
        if re.search(r"[\u3400-\u9fff]", text):
            text = self._t2s.convert(text)  # before the numerals: 貳 → 贰, 萬 → 万
        text = plain_numerals(text)
        english = self.has_english(text)
        if re.search(r"[A-Za-z]", text):
            text = _english_dates(text)
        if self._english is not None and re.search(r"[A-Za-z]", text):
            text = self._english.sub(lambda m: self._english_map[m.group(0).lower()], text)
        for wrong, right in self._typos:
            if wrong in text:
                text = text.replace(wrong, right)
        text = re.sub(r"\s+", " ", text).strip()
        spaced = re.findall(r"[\u3400-\u9fff] (?=[\u3400-\u9fff])", text)
        if len(spaced) >= 5 and len(spaced) * 3 >= len(re.findall(r"[\u3400-\u9fff]", text)):
            # “买 了 十 万 元 整”: characters typed one by one; the spaces between them separate nothing
            text = re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", text)
        if english:
            # in an English question a space left between a translated word and its figure joins nothing (“a new
            # 600P” → “新增 600P”); in Chinese a space separates clauses (“共76万 2024年是48万”) and stays
            text = re.sub(r"(?<=[\u3400-\u9fff]) (?=\d)", "", text)
        return text


_MONTHS = {m: i + 1 for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                           "september", "october", "november", "december"])}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH_RE = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"


def _english_dates(text: str) -> str:
    """English dates in the Chinese form the reader understands: “March 15, 2024” → 2024年3月15日, “March 2024” →
    2024年3月, “in 2025” → 2025年. Language, not document knowledge, so it lives here rather than in the lexicon."""
    def ymd(m: re.Match) -> str:
        day = m.groupdict().get("day")
        month = _MONTHS[m.group("mon").lower()]
        return f"{m.group('year')}年{month}月" + (f"{int(day)}日" if day else "")

    flags = re.IGNORECASE
    text = re.sub(r"(?<![A-Za-z])" + _MONTH_RE + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>20\d{2})", ymd, text,
                  flags=flags)
    text = re.sub(r"(?<![A-Za-z\d])(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH_RE + r",?\s+(?P<year>20\d{2})", ymd, text,
                  flags=flags)
    text = re.sub(r"(?<![A-Za-z])" + _MONTH_RE + r",?\s+(?:of\s+)?(?P<year>20\d{2})", ymd, text, flags=flags)
    # “RMB 9.4 million in 2024 and RMB 8.9 million in 2023”: the year goes before its figure, as Chinese puts it
    text = re.sub(r"((?:RMB|CNY|¥|\$)?\s*\d[\d.,]*\s*(?:million|billion|thousand|mn|bn|k|m|wan)?(?:\s*(?:yuan|RMB|CNY))?)"
                  r"\s+(?:in|for|during)\s+(20\d{2})(?![\d年])", r"\2年 \1", text, flags=flags)
    text = re.sub(r"(?<![A-Za-z])(?:in|since|during|for|from|of)\s+(20\d{2})(?![\d年])", r"\1年", text, flags=flags)
    # “two of our engineers” → 2名员工 (a count of people the reader can bind)
    numbers = {w: i + 1 for i, w in enumerate("one two three four five six seven eight nine ten".split())}

    def people(m: re.Match) -> str:
        n = m.group(1).lower()
        return f"{numbers.get(n, n)}名员工"

    text = re.sub(r"(?<![A-Za-z])(one|two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:of\s+(?:our|the)\s+)?"
                  r"(?:engineers?|employees?|staff|people|persons?)(?![A-Za-z])", people, text, flags=flags)
    # “…, and one obtained an intermediate title”: a bare number word before the verb counts people too
    return re.sub(r"(?<![A-Za-z])(one|two|three|four|five|six|seven|eight|nine|ten)\s+(?=(?:more\s+)?(?:newly\s+)?"
                  r"(?:obtained|got|received|gained|earned|was awarded|were awarded)\b)", lambda m: people(m) + " ",
                  text, flags=flags)
