"""PolicyCatalog: everything the code knows about the policy documents, loaded from data and passed down.

One object holds the documents (metadata, cleaned text, clause parse), the subsidy programs and fact vocabulary
(corpus/rules), the stacking rules and the lexicon (corpus/lexicon: regions and places, intents, cue words, typos,
bilingual names). `Services` owns one and hands it to the agents, the calculator and the eligibility check; nothing
below reads corpus files on its own. A new policy notice is new data in these folders (or an extra folder laid out
the same way), never new code.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

from corpus.yamlio import load_yaml

from corpus.models import ActivityPeriod, Clause, Document, Replacement
from tools.errors import InvalidInputError, UnknownProgramError
from tools.lexicon import Lexicon, Normalizer, RegionDef
from tools.rules import FACTS_FILE, Program, RuleSet, StackingRule, load_rules
from tools.schema import Citation
from tools.vocab import FactDef

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
_ROOT = Path(__file__).resolve().parent.parent
# the modules whose classes a pickled catalog holds or whose code shapes it (see PolicyCatalog.load_cached)
_CATALOG_SOURCES = tuple(_ROOT / m for m in ("corpus/models.py", "corpus/parse.py", "corpus/places.py",
                                             "corpus/dates.py", "tools/catalog.py", "tools/rules.py",
                                             "tools/formulas.py", "tools/vocab.py", "tools/lexicon.py",
                                             "tools/schema.py", "tools/dated.py"))


def _load_documents(directory: Path) -> list[Document]:
    path = directory / "documents.yaml"
    if not path.exists():
        return []
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return [Document.model_validate(d) for d in data.get("documents") or []]


@dataclass
class PolicyCatalog:
    documents: dict[str, Document]
    clauses: dict[str, Clause]
    rules: RuleSet
    lexicon: Lexicon
    source_dirs: tuple[Path, ...] = field(default_factory=tuple)

    # --- loading ---------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, corpus_dir: Path | str | None = None, extra_dirs: Iterable[Path | str] = ()) -> "PolicyCatalog":
        """The corpus folder plus any extra folders laid out like it (documents.yaml, clean/, rules/, lexicon/)."""
        from corpus.parse import parse_document

        base = Path(corpus_dir) if corpus_dir else CORPUS_DIR
        extras = tuple(Path(d) for d in extra_dirs)
        docs: list[Document] = []
        clauses: list[Clause] = []
        for folder in (base, *extras):
            for doc in _load_documents(folder):
                if any(d.id == doc.id for d in docs):
                    raise InvalidInputError(f"文件编号重复：{doc.id}（{folder}）")
                docs.append(doc)
                text = (folder / "clean" / f"{doc.id}.txt").read_text(encoding="utf-8")
                clauses.extend(parse_document(doc.id, text, doc.parse_style))
        clause_map = {c.id: c for c in clauses}
        rules_dirs = [base / "rules"] + [d / "rules" for d in extras if (d / "rules").is_dir()]
        rules = load_rules(rules_dirs, {cid: c.text for cid, c in clause_map.items()}, [d.id for d in docs])
        lexicon = Lexicon.load(base / "lexicon", tuple(d / "lexicon" for d in extras if (d / "lexicon").is_dir()))
        catalog = cls(documents={d.id: d for d in docs}, clauses=clause_map, rules=rules, lexicon=lexicon,
                      source_dirs=(base, *extras))
        catalog.check()
        return catalog

    @classmethod
    def load_cached(cls, corpus_dir: Path | str | None, extra_dirs: Iterable[Path | str] = (),
                    cache_dir: Path | str | None = None) -> "PolicyCatalog":
        """`load`, kept on disk between processes: the validated catalog is pickled under a key made of the bytes
        of every data file it reads and of the source of the classes it holds, so a changed notice, rule, lexicon
        entry or model is a new key and a fresh load. A one-shot command then starts in milliseconds instead of
        parsing and validating the YAML (0.25 s). Without `cache_dir`, or on any cache error, it loads."""
        import hashlib
        import os
        import pickle
        import uuid

        if cache_dir is None:
            return cls.load(corpus_dir, extra_dirs)
        base = Path(corpus_dir) if corpus_dir else CORPUS_DIR
        folders = (base, *(Path(d) for d in extra_dirs))
        h = hashlib.sha256()
        for folder in folders:
            h.update(str(folder.resolve()).encode())
            files = [folder / "documents.yaml"] + [f for sub in ("clean", "rules", "lexicon")
                                                   for f in sorted((folder / sub).glob("*")) if f.is_file()]
            for f in files:
                if f.is_file():
                    h.update(f"{f.relative_to(folder)}\0".encode())
                    h.update(f.read_bytes())
        for source in _CATALOG_SOURCES:
            h.update(source.read_bytes())
        path = Path(cache_dir) / f"catalog-{h.hexdigest()[:20]}.pickle"
        try:
            with open(path, "rb") as f:
                catalog = pickle.load(f)  # noqa: S301 - our own file, written below
            if isinstance(catalog, cls):
                return catalog
        except FileNotFoundError:
            pass
        except Exception:  # noqa: BLE001 - a stale or damaged cache file is rebuilt, never trusted
            pass
        catalog = cls.load(corpus_dir, extra_dirs)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
            tmp.write_bytes(pickle.dumps(catalog, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(tmp, path)
            for old in path.parent.glob("catalog-*.pickle"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass
        return catalog

    def check(self) -> None:
        """Cross-checks between documents, rules and lexicon (clause roles exist, every document has a region,
        every stated date is written in its clause, revisions and repeals name existing documents)."""
        from tools.rules import RulesError

        for doc in self.documents.values():
            for role, cid in doc.roles.items():
                if cid not in self.clauses:
                    raise RulesError(f"文件 {doc.id} 的条款角色 {role} 指向不存在的条款 {cid}")
            problems = self.date_problems(doc.id)
            if problems:
                raise RulesError(f"文件 {doc.id} 的日期与原文不符：" + "；".join(problems))
            for kind, reps in (("supersedes", doc.supersedes), ("repeals", doc.repeals)):
                for rep in reps:
                    if rep.doc_id not in self.documents or rep.doc_id == doc.id:
                        raise RulesError(f"文件 {doc.id} 的 {kind} 指向不存在的文件 {rep.doc_id}")
            for term, cid in doc.terms.items():
                if cid not in self.clauses or term not in self.clauses[cid].text:
                    raise RulesError(f"文件 {doc.id} 的术语“{term}”应指向原文中出现该术语的条款（{cid}）")
            for note in (doc.application_note, doc.contacts_note):
                if note and note.clause_id not in self.clauses:
                    raise RulesError(f"文件 {doc.id} 的说明引用了不存在的条款 {note.clause_id}")
            if doc.id not in self.region_of_doc:
                raise RulesError(f"文件 {doc.id} 没有对应的地区（请在 lexicon/regions.yaml 的 docs 中登记）")
        for program in [*self.rules.programs, *self.rules.drafts]:
            app, doc = program.application, self.documents[program.doc_id]
            if app and app.deadline and (app.deadline, app.deadline_time) != (doc.deadline, doc.deadline_time):
                raise RulesError(f"项目 {program.id} 的申报截止日期 {app.deadline} {app.deadline_time or ''} 与文件 "
                                 f"{doc.id} 写明的截止日期（documents.yaml 的 dates.deadline）不一致")
            for path, history in program.histories():
                for entry in history:
                    for day in (entry.from_, entry.to):
                        if day and entry.clause_id and not self._date_stated(day, entry.clause_id, entry.phrase):
                            raise RulesError(f"项目 {program.id} 的 {path}：日期 {day} 既未写在原文短语“{entry.phrase}”中，"
                                             f"也不是文件写明的日期（施行、有效期、修订日期）")
        for region in self.lexicon.regions:
            for doc_id in region.docs:
                if doc_id not in self.documents:
                    raise RulesError(f"地区 {region.key} 列出的文件 {doc_id} 不存在")

    def date_problems(self, doc_id: str) -> list[str]:
        """Every date a document states (publication, in force, window, deadline, activity period, revisions) must
        be written in the quoted phrase, and the phrase must be in the cited clause of the cleaned text."""
        from corpus.dates import check_date_phrase
        from corpus.models import DATE_ROLE_ZH
        from tools.rules import normalise_phrase

        doc = self.documents[doc_id]
        checks: list[tuple[str, dt.date, str, str, str, str | None]] = [
            (DATE_ROLE_ZH[role], d.date, d.phrase, d.clause_id, d.reading, d.time) for role, d in doc.dates.stated()]
        if doc.activity_period:
            ap = doc.activity_period
            checks += [(f"适用期间（{ap.label}）起", ap.from_, ap.phrase, ap.clause_id, "", None),
                       (f"适用期间（{ap.label}）止", ap.to, ap.phrase, ap.clause_id, "", None)]
        for rep in [*doc.supersedes, *doc.repeals]:
            checks.append((f"对 {rep.doc_id} 的修订/废止日期", rep.from_, rep.phrase, rep.clause_id, "", None))
        problems = []
        for what, day, phrase, clause_id, reading, time in checks:
            clause = self.clauses.get(clause_id)
            if clause is None:
                problems.append(f"{what}引用了不存在的条款 {clause_id}")
            elif normalise_phrase(phrase) not in normalise_phrase(clause.text):
                problems.append(f"{what}的原文短语“{phrase}”未在条款 {clause_id} 中找到")
            elif why := check_date_phrase(day, phrase, reading, time):
                problems.append(f"{what}：{why}")
        d = doc.dates
        if d.in_force_from and d.in_force_to and d.in_force_from.date > d.in_force_to.date:
            problems.append("施行日期晚于有效期截止日")
        if d.window_opens and d.deadline and d.window_opens.date > d.deadline.date:
            problems.append("申报开始日期晚于申报截止日")
        return problems

    def _date_stated(self, day: dt.date, clause_id: str, phrase: str) -> bool:
        """A value's from/to date is honest when its phrase writes it or its document states it."""
        from corpus.dates import check_date_phrase

        if phrase and check_date_phrase(day, phrase) is None:
            return True
        doc = self.documents[self.clauses[clause_id].doc_id]
        stated = {d.date for _, d in doc.dates.stated()} | {r.from_ for r in (*doc.supersedes, *doc.repeals)}
        return day in stated or (doc.effective_to is not None and day == doc.effective_to)

    # --- versions: revisions and repeals chosen by the as-of date -------------------------------------------
    def replacement(self, doc_id: str, as_of: dt.date) -> "tuple[str, Document, Replacement] | None":
        """("supersede" | "repeal", the document that does it, the entry) when `doc_id` is revised or repealed on or
        before `as_of`; None while it still applies."""
        for other in self.documents.values():
            for kind, reps in (("supersede", other.supersedes), ("repeal", other.repeals)):
                for rep in reps:
                    if rep.doc_id == doc_id and rep.from_ <= as_of:
                        return kind, other, rep
        return None

    @cached_property
    def change_dates(self) -> tuple[dt.date, ...]:
        """Days on which the rules in force change: revisions, repeals and the starts/ends of dated values."""
        days = {rep.from_ for d in self.documents.values() for rep in (*d.supersedes, *d.repeals)}
        for p in self.rules.programs:
            days |= set(p.change_dates())
        return tuple(sorted(days))

    def edition_key(self, as_of: dt.date) -> int:
        """Which edition of the rules applies on `as_of` (0 before the first change, 1 after it, …)."""
        import bisect

        return bisect.bisect_right(self.change_dates, as_of)

    def at(self, as_of: dt.date) -> "PolicyCatalog":
        """The catalog as it stands on `as_of`: programs of documents revised or repealed by then are left out and
        every dated value is the one in force. The catalog itself when nothing in it is dated."""
        if not self.change_dates:
            return self
        key = self.edition_key(as_of)
        cache = self.__dict__.setdefault("_editions", {})
        if key not in cache:
            # revised or repealed by `as_of`, and revisions whose date has not come yet (the old version applies)
            gone = {d for d in self.documents if self.replacement(d, as_of)}
            gone |= {d.id for d in self.documents.values() if any(r.from_ > as_of for r in d.supersedes)}
            programs = tuple(p.at(as_of)[0] for p in self.rules.programs if p.doc_id not in gone)
            rules = self.rules.model_copy(update={"programs": programs})
            cache[key] = PolicyCatalog(documents=self.documents, clauses=self.clauses, rules=rules,
                                       lexicon=self.lexicon, source_dirs=self.source_dirs)
        return cache[key]

    # --- documents and clauses ----------------------------------------------------------------------------
    def document(self, doc_id: str) -> Document:
        try:
            return self.documents[doc_id]
        except KeyError:
            raise InvalidInputError(f"未找到文件“{doc_id}”。") from None

    def clause(self, clause_id: str) -> Clause:
        return self.clauses[clause_id]

    def clauses_of(self, doc_id: str) -> list[Clause]:
        return [c for c in self.clauses.values() if c.doc_id == doc_id]

    def citation(self, clause_id: str) -> Citation:
        clause = self.clauses[clause_id]
        doc = self.documents[clause.doc_id]
        return Citation(id=clause.id, document=doc.title, doc_number=doc.doc_number, clause=clause.label_path,
                        text=clause.text)

    def role_clause(self, doc_id: str, role: str) -> str | None:
        return self.documents[doc_id].roles.get(role)  # type: ignore[call-overload]

    def doc_label(self, doc_id: str) -> str:
        doc = self.documents[doc_id]
        return f"《{doc.title}》" + (f"（{doc.doc_number}）" if doc.doc_number else "")

    # --- programs and facts ---------------------------------------------------------------------------------
    @property
    def programs(self) -> tuple[Program, ...]:
        return self.rules.programs

    @cached_property
    def _program_map(self) -> dict[str, Program]:
        return {p.id: p for p in self.rules.programs}

    def program(self, program_id: str) -> Program:
        try:
            return self._program_map[program_id]
        except KeyError:
            raise UnknownProgramError(
                f"未找到补助项目“{program_id}”。可用 `policy-assistant programs` 查看全部项目编号。") from None

    def program_or_draft(self, program_id: str) -> Program | None:
        """A reviewed program or a draft (for golden tests and `docs check`; answers never see drafts)."""
        return self._program_map.get(program_id) or next((p for p in self.rules.drafts if p.id == program_id), None)

    def has_program(self, program_id: str) -> bool:
        return program_id in self._program_map

    @property
    def facts(self) -> dict[str, FactDef]:
        return self.rules.facts

    def stacking(self, doc_id: str | None = None) -> list[StackingRule]:
        if doc_id:
            return list(self.rules.stacking.get(doc_id, ()))
        return [r for rs in self.rules.stacking.values() for r in rs]

    def programs_citing(self, clause_id: str) -> list[Program]:
        return [p for p in self.programs if clause_id in p.clause_ids]

    def guide_for(self, program: Program) -> Program | None:
        """The application-guide program that implements `program` (a yearly call for the same clause)."""
        return next((p for p in self.programs if p.implements == program.id), None)

    def activity_period(self, program: Program) -> ActivityPeriod | None:
        return program.activity_period or self.documents[program.doc_id].activity_period

    # --- regions ------------------------------------------------------------------------------------------------
    @property
    def regions(self) -> list[RegionDef]:
        return self.lexicon.regions

    def region(self, key: str) -> RegionDef:
        return self.lexicon.region_by_key[key]

    @cached_property
    def region_of_doc(self) -> dict[str, str]:
        return {doc: r.key for r in self.lexicon.regions for doc in r.docs}

    def region_of(self, program: Program) -> str:
        return self.region_of_doc[program.doc_id]

    def ancestors(self, key: str) -> list[str]:
        """The region and the regions above it (a district → [the district, its city])."""
        out = []
        while key:
            out.append(key)
            key = self.region(key).parent or ""
        return out

    def docs_of(self, region_key: str, *, with_ancestors: bool = False) -> list[str]:
        keys = self.ancestors(region_key) if with_ancestors else [region_key]
        return [d for k in keys for d in self.region(k).docs]

    def programs_of(self, region_key: str, *, with_ancestors: bool = False) -> list[Program]:
        docs = set(self.docs_of(region_key, with_ancestors=with_ancestors))
        return [p for p in self.programs if p.doc_id in docs]

    def counterpart(self, program: Program, region_key: str) -> Program | None:
        """The program of `region_key` that supports the same thing (same stacking group), if any."""
        if not program.stacking_group:
            return None
        return next((p for p in self.programs_of(region_key) if p.stacking_group == program.stacking_group
                     and not p.implements), None)

    def region_label(self, key: str) -> str:
        return self.region(key).name

    @cached_property
    def covered_places(self) -> frozenset[str]:
        """Canonical gazetteer places the corpus speaks for, with everything inside them: each document's region
        and each region's own places."""
        gaz = self.lexicon.gazetteer
        names = {d.region for d in self.documents.values()}
        names |= {r.name for r in self.regions} | {p.name for r in self.regions for p in r.places}
        return frozenset(gaz.canonical(n) or n for n in names)

    @cached_property
    def named_provinces(self) -> frozenset[str]:
        """Provinces of province-level documents: covered when named themselves (“省级项目”), not their other
        cities (福州)."""
        gaz = self.lexicon.gazetteer
        return frozenset(gaz.canonical(d.region_path[0]) or d.region_path[0] for d in self.documents.values()
                         if d.level == "province" and d.region_path)

    def outside_places(self, text: str) -> list[str]:
        """Places named in `text` that no document covers (深圳, 北京, 福州…)."""
        gaz = self.lexicon.gazetteer
        low = text.lower()
        out = [p for p in gaz.mentioned(text) if p not in self.named_provinces
               and not any(a in self.covered_places for a in gaz.ancestors(p))]
        out += [n for n in self.lexicon.outside_extra if n.lower() in low and gaz.canonical(n) is None and n not in out]
        return out

    def program_summaries(self) -> list[dict]:
        """One dict per program for lists and pickers: id, name, region, doc, level, beneficiary, amount kind, aliases."""
        from corpus.models import LEVEL_ZH

        out = []
        for p in self.programs:
            doc = self.documents[p.doc_id]
            out.append({
                "id": p.id, "name": p.name, "short_name": p.short_name or p.name, "aliases": list(p.aliases),
                "doc_id": p.doc_id, "document": doc.title, "doc_short_title": doc.short_title,
                "doc_number": doc.doc_number, "region": p.region.label,
                "region_path": [x for x in (p.region.province, p.region.city, p.region.district) if x],
                "level": p.level, "level_zh": LEVEL_ZH[p.level], "beneficiary": p.beneficiary,
                "amount_kind": p.amount_kind, "period": p.period, "payment_form": p.payment_form,
                "clause_ids": list(p.clause_ids), "implements": p.implements, "facts": list(p.facts),
            })
        return out

    # --- text ----------------------------------------------------------------------------------------------------
    @cached_property
    def normalizer(self) -> Normalizer:
        return Normalizer(self.lexicon)

    def corpus_summary(self) -> str:
        """What the corpus covers, for answers to questions it cannot answer (built from the documents)."""
        return "、".join(d.title for d in self.documents.values())


_DEFAULT: PolicyCatalog | None = None


def default_catalog() -> PolicyCatalog:
    """The catalog of the repository's corpus folder, loaded once: for command-line tools and tests that do not
    build `Services`. Services load their own from settings and pass it down."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PolicyCatalog.load()
    return _DEFAULT


__all__ = ["PolicyCatalog", "default_catalog", "CORPUS_DIR", "FACTS_FILE"]
