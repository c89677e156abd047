"""Reading a new notice for `policy-assistant docs add`: cleaning repairs, clause parse, stated dates, metadata.

Everything found here is a proposal a person reviews: the repairs are recorded (the cleaned text is rebuilt from
the raw text and them, like the five seed documents), the clause parse is printed, every date carries the phrase
it was read from (a date the text does not write is never proposed), and the documents.yaml entry is written as
data. Nothing here knows a particular document; debris strings live in corpus/cleaning.yaml.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from corpus.clean import clean_text
from corpus.dates import written_dates, written_times
from corpus.models import Clause, Document, Repair
from corpus.parse import parse_document

CLEANING_FILE = Path(__file__).resolve().parent / "cleaning.yaml"
_PUNCT_END = "。；;：:！？!?，,、）)】」”\""
_ENUMERATOR = re.compile(r"^(?:[一二三四五六七八九十]+、|[1-9][、.]|（[一二三四五六七八九十\d]+）|\([一二三四五六七八九十\d]+\)|第[一二三四五六七八九十]+条|附件)")
_FULL_DATE = r"\d{4}年\d{1,2}月\d{1,2}日"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Debris(_Strict):
    find: str
    reason: str


class Pattern(_Strict):
    kind: Literal["markup", "page_break", "spacing", "punctuation", "debris", "restore"]
    find: str
    replace: str
    reason: str


class CleaningRules(_Strict):
    debris: list[Debris] = []
    patterns: list[Pattern] = []


def load_cleaning_rules(path: Path = CLEANING_FILE) -> CleaningRules:
    return CleaningRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


# --- cleaning ---------------------------------------------------------------------------------------------------
def _page_breaks(text: str) -> list[Repair]:
    """A sentence cut by a page break: a long line without closing punctuation, blank line(s), then a line that
    continues it (not a heading or an enumerated item)."""
    repairs = []
    for m in re.finditer(r"([^\n]{12,})\n(?:[ \t]*\n)+([^\n]+)", text):
        before, after = m.group(1).rstrip(), m.group(2).strip()
        if not before or before[-1] in _PUNCT_END or _ENUMERATOR.match(after) or not re.match(r"[\u4e00-\u9fff\d（(]", after):
            continue
        if re.search(r"[。；;！？，,、]", before) is None and len(before) < 30:
            continue  # a short title line, not a cut sentence
        tail, head = before[-6:], after[:6]
        start = m.start(1) + len(before) - len(tail)  # the last characters before the break
        end = m.start(2) + (len(m.group(2)) - len(m.group(2).lstrip())) + len(head)  # the first ones after it
        find = text[start:end]
        if text.count(find) != 1:
            continue
        repairs.append(Repair(kind="page_break", find=find, replace=tail + head,
                              reason=f"合并被分页截断的句子（“{tail[-3:]}{head[:3]}”）"))
    return repairs


def detect_repairs(raw: str, rules: CleaningRules | None = None) -> list[Repair]:
    """The repairs a new raw text needs, each matching exactly `count` times in order (as corpus/clean.py applies
    them); generic whitespace clean-up (clean.GENERIC_REPAIRS) comes after and is not listed."""
    rules = rules or load_cleaning_rules()
    text = raw.replace("\r\n", "\n")
    repairs: list[Repair] = []

    def add(repair: Repair) -> None:
        nonlocal text
        n = len(re.findall(repair.find, text)) if repair.regex else text.count(repair.find)
        if n == 0:
            return
        repair = repair.model_copy(update={"count": n})
        repairs.append(repair)
        text = re.sub(repair.find, repair.replace, text) if repair.regex else text.replace(repair.find, repair.replace)

    for d in rules.debris:
        add(Repair(kind="debris", find=d.find, replace="", reason=d.reason))
    for p in rules.patterns:
        if p.kind != "spacing":
            add(Repair(kind=p.kind, find=p.find, replace=p.replace, reason=p.reason, regex=True))
    for r in _page_breaks(text):
        add(r)
    for p in rules.patterns:
        if p.kind == "spacing":
            add(Repair(kind=p.kind, find=p.find, replace=p.replace, reason=p.reason, regex=True))
    return repairs


# --- dates -----------------------------------------------------------------------------------------------------
@dataclass
class Found:
    """A date read from the text, ready for documents.yaml, or why it could not be proposed."""

    role: str
    entry: dict[str, Any] | None
    problem: str = ""


def _day(text: str, year: int | None = None) -> dt.date | None:
    ws = written_dates(text)
    if not ws:
        return None
    w = ws[0]
    y = w.year or year
    return dt.date(y, w.month, w.day) if y else None


def _stated(day: dt.date, phrase: str, clause_id: str, reading: str = "", time: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"date": day}
    if time:
        out["time"] = time
    out["phrase"] = phrase
    out["clause_id"] = clause_id
    if reading:
        out["reading"] = reading
    return out


def extract_dates(clauses: list[Clause]) -> tuple[dict[str, Any], dict[str, Any] | None, list[str]]:
    """(the `dates` block, an activity period, notes for the reviewer) from what the clauses write."""
    dates: dict[str, Any] = {}
    period: dict[str, Any] | None = None
    notes: list[str] = []
    body = [c for c in clauses if c.kind != "attachment"]
    for c in body:
        if "in_force_from" not in dates and (m := re.search(rf"自({_FULL_DATE})起(?:施行|执行|实施|生效)", c.text)):
            dates["in_force_from"] = _stated(_day(m.group(1)), m.group(0), c.id)
            if (m2 := re.search(rf"自({_FULL_DATE})起(?:施行|执行|实施|生效)[，,；;]?\s*有效期至({_FULL_DATE})", c.text)):
                period = {"from": _day(m2.group(1)), "to": _day(m2.group(2)), "label": "措施有效期", "clause_id": c.id,
                          "phrase": m2.group(0)}
        if "in_force_to" not in dates and (m := re.search(rf"有效期至({_FULL_DATE})", c.text)):
            dates["in_force_to"] = _stated(_day(m.group(1)), m.group(0), c.id)
        if "published" not in dates:
            lines = c.text.split("\n")
            for i, line in enumerate(lines):
                if re.fullmatch(rf"({_FULL_DATE})(?:印发)?", line.strip()):
                    phrase = "\n".join(lines[max(0, i - 1):i + 1]) if i and not re.search(r"[。；：:]", lines[i - 1]) else line
                    dates["published"] = _stated(_day(line), phrase.strip(), c.id)
                    break
    year = dates["published"]["date"].year if "published" in dates else None
    for c in body:
        time = r"(?:(?:上午|下午|晚上)?\d{1,2}(?:[点时]|:\d{2}))?"
        m = (re.search(r"即日起至((?:\d{4}年)?\d{1,2}月\d{1,2}日)" + time, c.text)
             or re.search(r"((?:\d{4}年)?\d{1,2}月\d{1,2}日)" + time + r"(?:前|之前|截止)", c.text))
        if not m or "deadline" in dates:
            continue
        if not m.group(0).startswith("即日起") and \
                not re.search(r"申报|报送|提交|推荐|截止|兑现", c.text[max(0, m.start() - 40):m.end() + 40]):
            continue
        phrase = m.group(0)
        day = _day(m.group(1), year)
        times = written_times(phrase)
        if day is None:
            notes.append(f"“{phrase}”（{c.id}）未写年份且文件没有落款日期，未自动填写申报截止日期，请人工补充并写明理解依据（reading）。")
            continue
        reading = "" if re.match(r"\d{4}年", m.group(1)) else f"截止日未写年份，按发文日期{year}年理解为{day.year}年{day.month}月{day.day}日"
        dates["deadline"] = _stated(day, phrase, c.id, reading, times[0] if times else None)
        if phrase.startswith("即日起") and "published" in dates:
            pub = dates["published"]["date"]
            dates["window_opens"] = _stated(pub, phrase, c.id, f"“即日起”指发文之日，即{pub.year}年{pub.month}月{pub.day}日")
    for role, zh in (("published", "发布日期"), ("in_force_from", "施行日期"), ("in_force_to", "有效期截止"), ("deadline", "申报截止")):
        if role not in dates:
            notes.append(f"文件未写明{zh}（回答中不会出现这一日期）。")
    return dates, period, notes


def find_replacements(clauses: list[Clause], known: dict[str, Document],
                      in_force_from: dt.date | None) -> tuple[list[dict], list[dict], list[str]]:
    """(supersedes, repeals, notes): “原《…》（文号）自…起废止 / 同时废止” naming a document already in the corpus.
    A repealed document with the same title stem is taken as revised (superseded) by this one."""
    supersedes, repeals, notes = [], [], []
    for c in clauses:
        for m in re.finditer(r"原?《([^》]+)》(?:（([^）]*)）)?(?:自(" + _FULL_DATE + r")起|同时)(?:废止|停止执行|失效)", c.text):
            title, number, when = m.group(1), m.group(2) or "", m.group(3)
            target = next((d for d in known.values() if d.title == title or (number and number in (d.doc_number,
                           *d.doc_number_aliases))), None)
            if target is None:
                notes.append(f"文中废止的《{title}》不在语料中，未登记修订/废止关系。")
                continue
            day = _day(when) if when else in_force_from
            if day is None:
                notes.append(f"《{title}》的废止日期未写明，未登记修订/废止关系。")
                continue
            phrase = m.group(0)
            if not when:  # “同时废止”: the phrase must reach back to the day it takes effect
                start = c.text.rfind("自", 0, m.start())
                phrase = c.text[start:m.end()] if start >= 0 else phrase
            entry = {"doc_id": target.id, "from": day, "clause_id": c.id, "phrase": phrase}
            # the same title (parentheses aside) heading this notice: a revision; otherwise a repeal
            stem = re.sub(r"[（(][^）)]*[）)]", "", title)
            head = re.sub(r"[（(][^）)]*[）)]", "", clauses[0].text.split("\n", 1)[0]) if clauses else ""
            (supersedes if stem and stem in head else repeals).append(entry)
    return supersedes, repeals, notes


# --- metadata ---------------------------------------------------------------------------------------------------
_LEVEL_BY_SUFFIX = {"省": "province", "自治区": "province", "市": "city", "州": "city", "区": "district", "县": "district"}


def guess_level(region: str) -> str:
    for suffix, level in _LEVEL_BY_SUFFIX.items():
        if region.endswith(suffix):
            return level
    return "city"


@dataclass
class NewDocument:
    """Everything `docs add` proposes for one notice."""

    doc_id: str
    raw: str
    repairs: list[Repair]
    clean: str
    clauses: list[Clause]
    entry: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def read_notice(doc_id: str, raw: str, *, seed_file: str, meta: dict[str, Any], known: dict[str, Document],
                parse_style: dict[str, Any] | None = None) -> NewDocument:
    """Clean, parse and read the dates and metadata of a new notice; `meta` holds what the user gave (title,
    region, region_path, level, issuer, doc_number, short_title, interpreter, keywords)."""
    from corpus.models import ParseStyle

    repairs = detect_repairs(raw)
    draft = Document.model_validate({
        "id": doc_id, "seed_file": seed_file, "title": "-", "notice_title": "-", "short_title": "-", "issuer": "-",
        "interpreter": "-", "doc_number": "", "doc_number_aliases": [], "region": "-", "region_path": [], "level": "city",
        "application": None, "contacts": [], "based_on": [], "keywords": [], "notes": [], "repairs": repairs})
    text = clean_text(raw, draft)
    style = ParseStyle.model_validate(parse_style or {})
    clauses = parse_document(doc_id, text, style)
    first = text.split("\n", 1)[0].strip()
    title = meta.get("title") or first
    dates, period, notes = extract_dates(clauses)
    in_force_from = dates["in_force_from"]["date"] if "in_force_from" in dates else None
    supersedes, repeals, more = find_replacements(clauses, known, in_force_from)
    notes += more
    number = meta.get("doc_number")
    if number is None:
        head = "\n".join(text.split("\n")[:4])
        m = re.search(r"(?m)^([\u4e00-\u9fff]{1,8}〔\d{4}〕\d+号)$", head)
        number = m.group(1) if m else ""
    whole = "\n".join(c.text for c in clauses)
    interpreter = meta.get("interpreter")
    if not interpreter:
        m = re.search(r"由([\u4e00-\u9fff]{2,20}?)负责解释", whole)
        interpreter = m.group(1) if m else ""
    issuer = meta.get("issuer")
    if not issuer and "published" in dates and "\n" in dates["published"]["phrase"]:
        issuer = dates["published"]["phrase"].split("\n")[0].strip()  # the signature line above the date
    if not issuer:
        m = re.match(r"([\u4e00-\u9fff]{2,30}?)关于", title)
        issuer = m.group(1) if m else (interpreter or "")
    interpreter = interpreter or issuer
    region = meta["region"]
    region_path = list(meta.get("region_path") or [region])
    contacts = []
    for c in clauses:
        if c.kind == "contacts" or c.id.endswith(":contacts"):
            who = re.search(r"联系人[:：]\s*([^，,\s电]+)", c.text)
            phone = re.search(r"电话[:：]?\s*([\d\-]{7,})", c.text)
            contact = {"unit" if who and len(who.group(1)) > 4 else "name": who.group(1) if who else ""}
            if phone:
                contact["phone"] = phone.group(1)
            contacts.append({k: v for k, v in contact.items() if v} | {"topic": "政策咨询"})
    roles: dict[str, str] = {}
    for c in clauses:
        if "period" not in roles and ("施行" in c.text or "有效期" in c.text):
            roles["period"] = c.id
        if "window" not in roles and "deadline" in dates and dates["deadline"]["clause_id"] == c.id:
            roles["window"] = c.id
        if "interpreter" not in roles and "负责解释" in c.text:
            roles["interpreter"] = c.id
        if "stacking" not in roles and re.search(r"就高|不重复享受|不得重复|叠加", c.text):
            roles["stacking"] = c.id
        if "contacts" not in roles and c.kind == "contacts":
            roles["contacts"] = c.id
    if "window" not in roles and "period" in roles:
        roles["window"] = roles["period"]
    entry: dict[str, Any] = {
        "id": doc_id, "seed_file": seed_file, "title": title, "notice_title": meta.get("notice_title") or title,
        "short_title": meta.get("short_title") or _short_title(title), "issuer": issuer, "interpreter": interpreter,
        "doc_number": number, "doc_number_aliases": [], "region": region, "region_path": region_path,
        "level": meta.get("level") or guess_level(region), "dates": dates,
        "application": {"channel": meta["channel"]} if meta.get("channel") else None,
        "contacts": contacts, "based_on": [], "keywords": meta.get("keywords") or _keywords(region, title),
        "notes": [], "repairs": [r.model_dump(exclude_defaults=True) | {"kind": r.kind} for r in repairs],
    }
    if parse_style:
        entry["parse_style"] = parse_style
    if roles:
        entry["roles"] = roles
    if period:
        entry["activity_period"] = period
    if supersedes:
        entry["supersedes"] = supersedes
    if repeals:
        entry["repeals"] = repeals
    Document.model_validate(entry)  # the proposal is valid data before anything is written
    return NewDocument(doc_id, raw, repairs, text, clauses, entry, notes)


def _short_title(title: str) -> str:
    t = re.sub(r"[（(][^）)]*[）)]$", "", title.replace("关于", "", 1))
    return t[:30]


def _keywords(region: str, title: str) -> list[str]:
    stem = re.sub(r"(省|市|区|县)$", "", region)
    return list(dict.fromkeys([stem, region]))


# --- writing ----------------------------------------------------------------------------------------------------
def entry_yaml(entry: dict[str, Any]) -> str:
    """One documents.yaml list item, block style with small mappings inline (like the existing entries)."""
    lines = []
    for i, (key, value) in enumerate(entry.items()):
        if key in ("dates",) and isinstance(value, dict):
            body = [f"    {key}:"] + [f"      {k}: {_flow(v)}" for k, v in value.items()] if value else [f"    {key}: {{}}"]
        elif key == "repairs" and value:
            body = [f"    {key}:"] + [f"      - {_flow(v)}" for v in value]
        elif key in ("supersedes", "repeals", "contacts") and value:
            body = [f"    {key}:"] + [f"      - {_flow(v)}" for v in value]
        else:
            body = [f"    {key}: {_flow(value)}"]
        if i == 0:
            body[0] = "  - " + body[0].lstrip()
        lines += body
    return "\n".join(lines) + "\n"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str):
    # a string with a line break is written double-quoted with “\n”, so each entry stays on one line
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"' if "\n" in data else None)


_Dumper.add_representer(str, _str)


def _flow(value: Any) -> str:
    text = yaml.dump(value, Dumper=_Dumper, allow_unicode=True, default_flow_style=True, width=10_000,
                     sort_keys=False).strip()
    return text[:-4].strip() if text.endswith("\n...") else text
