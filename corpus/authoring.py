"""Adding, reviewing and checking policy notices as data: the work behind `policy-assistant docs add|review|check`.

`add_notice` writes a new notice into a corpus folder (the repository's corpus/ or any folder laid out like it):
raw/<id>.txt, clean/<id>.txt (rebuilt from the raw text and the recorded repairs), the documents.yaml entry, a
region in lexicon/regions.yaml, and drafted rules (rules/<id>.yaml, new facts in rules/facts.yaml) marked
`status: draft`. Every write is validated by loading the whole catalog again; on any error the folder is put back
as it was. `review_programs` marks drafts reviewed; `check_corpus` validates everything and runs the golden tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from corpus.models import Document
from tools.errors import PolicyError


class AuthoringError(PolicyError):
    code = "authoring_error"


@dataclass
class AddResult:
    doc_id: str
    folder: Path
    written: list[Path]
    repairs: list[Any]
    clauses: list[Any]
    entry: dict[str, Any]
    programs: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    region_note: str
    notes: list[str] = field(default_factory=list)


class _Files:
    """Writes that can be undone: every file's previous content is kept until `commit`."""

    def __init__(self) -> None:
        self.before: dict[Path, str | None] = {}

    def write(self, path: Path, text: str) -> None:
        if path not in self.before:
            self.before[path] = path.read_text(encoding="utf-8") if path.exists() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def append(self, path: Path, text: str, header: str = "") -> None:
        old = path.read_text(encoding="utf-8") if path.exists() else header
        if old and not old.endswith("\n"):
            old += "\n"
        self.write(path, old + text)

    def rollback(self) -> None:
        for path, text in self.before.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text, encoding="utf-8")

    @property
    def paths(self) -> list[Path]:
        return list(self.before)


def _load(corpus_dir: Path, extra_dirs: list[Path]):
    from tools.catalog import PolicyCatalog

    return PolicyCatalog.load(corpus_dir, extra_dirs)


def _folders(corpus_dir: Path, extra_dirs: list[Path], target: Path) -> tuple[Path, list[Path]]:
    extras = [d for d in extra_dirs if d.resolve() != corpus_dir.resolve()]
    if target.resolve() != corpus_dir.resolve() and all(d.resolve() != target.resolve() for d in extras):
        extras.append(target)
    return corpus_dir, extras


def _region_entry(catalog, target: Path, corpus_dir: Path, doc_id: str, region: str, level: str, key: str | None,
                  parent: str | None, aliases: list[str], files: _Files) -> str:
    """Register the document under its region (existing or new) in the target folder's lexicon."""
    lex = catalog.lexicon
    stem = re.sub(r"(省|市|区|县)$", "", region)
    found = next((r for r in lex.regions if r.name == region or region in r.aliases or stem in r.aliases), None)
    path = target / "lexicon" / "regions.yaml"
    if found is not None:
        if target.resolve() == corpus_dir.resolve():
            text = path.read_text(encoding="utf-8")
            block = re.search(rf"(?ms)^  - key: {re.escape(found.key)}\n.*?^    docs: \[([^\]]*)\]", text)
            if not block:
                raise AuthoringError(f"无法在 {path} 中找到地区 {found.key} 的 docs 列表，请手工登记文件 {doc_id}。")
            docs = [d.strip() for d in block.group(1).split(",") if d.strip()] + [doc_id]
            start, end = block.span(1)
            files.write(path, text[:start] + ", ".join(docs) + text[end:])
        else:
            files.append(path, f"  - {{key: {found.key}, docs: [{doc_id}]}}\n" if _has_key(path, "attach")
                         else f"attach:\n  - {{key: {found.key}, docs: [{doc_id}]}}\n")
        return f"登记到已有地区 {found.name}（{found.key}）"
    parent_key = None
    if parent:
        p = next((r for r in lex.regions if r.key == parent or r.name == parent or parent in r.aliases), None)
        if p is None:
            raise AuthoringError(f"上级地区“{parent}”不存在。")
        parent_key = p.key
    keys = {r.key for r in lex.regions}
    key = key or re.split(r"[-_]", doc_id)[0]
    while key in keys:
        key += "-2"
    from corpus.intake import _flow

    entry = (f"  - key: {key}\n    name: {region}\n    level: {level}\n    parent: {parent_key or 'null'}\n"
             f"    docs: [{doc_id}]\n    aliases: {_flow(list(dict.fromkeys([region, stem, *aliases])))}\n    places: []\n")
    if path.exists() and _has_key(path, "regions"):
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        start = next(i for i, ln in enumerate(lines) if ln.startswith("regions:"))
        if lines[start].strip() == "regions: []":
            lines[start] = "regions:"
        nxt = next((i for i in range(start + 1, len(lines)) if re.match(r"^[A-Za-z_]", lines[i])), len(lines))
        while nxt > start + 1 and not lines[nxt - 1].strip():
            nxt -= 1
        files.write(path, "\n".join(lines[:nxt] + entry.rstrip("\n").split("\n") + lines[nxt:]))
    else:
        files.append(path, "regions:\n" + entry,
                     header="# Regions of the notices added to this folder (policy-assistant docs add).\n")
    return f"新建地区 {region}（{key}）"


def _has_key(path: Path, key: str) -> bool:
    return path.exists() and re.search(rf"(?m)^{key}:", path.read_text(encoding="utf-8")) is not None


def add_notice(source: Path, doc_id: str, *, corpus_dir: Path, extra_dirs: list[Path], target: Path,
               meta: dict[str, Any], parse_style: dict[str, Any] | None = None, force: bool = False) -> AddResult:
    """Read `source`, write the notice into `target` and validate the whole catalog; roll back on any error."""
    from corpus.draft import draft_rules, facts_yaml, rules_yaml
    from corpus.intake import entry_yaml, read_notice

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,40}", doc_id):
        raise AuthoringError(f"文件编号“{doc_id}”不合适：只用小写字母、数字和连字符，如 lh-measures。")
    try:
        raw = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuthoringError(f"找不到文件 {source}。") from None
    except UnicodeDecodeError:
        raise AuthoringError(f"文件 {source} 不是 UTF-8 文本，请先转换编码（如用记事本另存为 UTF-8）。") from None
    if not raw.strip():
        raise AuthoringError(f"文件 {source} 是空的。")
    if not meta.get("region"):
        raise AuthoringError("请用 --region 指定文件适用的地区（如 厦门市、思明区、安徽省）。")
    corpus_dir, extras = _folders(corpus_dir, extra_dirs, target)
    catalog = _load(corpus_dir, extras)
    if doc_id in catalog.documents:
        raise AuthoringError(f"文件编号 {doc_id} 已存在。")
    rules_path = target / "rules" / f"{doc_id}.yaml"
    if rules_path.exists() and not force:
        raise AuthoringError(f"{rules_path} 已存在（加 --force 覆盖）。")
    seed = f"{doc_id}.txt"
    meta = dict(meta)
    known_region = next((r for r in catalog.regions if r.name == meta["region"] or meta["region"] in r.aliases), None)
    if not meta.get("region_path"):
        same = next((d for d in catalog.documents.values() if known_region and d.id in known_region.docs), None)
        meta["region_path"] = list(same.region_path) if same else [meta["region"]]
    if known_region is not None and not meta.get("level"):
        meta["level"] = known_region.level
    new = read_notice(doc_id, raw, seed_file=seed, meta=meta, known=catalog.documents, parse_style=parse_style)
    draft = draft_rules(doc_id, new.clauses, new.entry["region"], new.entry["region_path"], new.entry["level"],
                        catalog.facts)
    files = _Files()
    try:
        files.write(target / "raw" / seed, raw)
        files.write(target / "clean" / f"{doc_id}.txt", new.clean)
        files.append(target / "documents.yaml", entry_yaml(new.entry),
                     header="# Notices added with `policy-assistant docs add` (validated by corpus/models.py).\ndocuments:\n")
        region_note = _region_entry(catalog, target, corpus_dir, doc_id, new.entry["region"], new.entry["level"],
                                    meta.get("region_key"), meta.get("parent"), list(meta.get("aliases") or []), files)
        files.write(rules_path, rules_yaml(doc_id, new.entry["title"], draft))
        if draft.facts:
            facts_path = target / "rules" / "facts.yaml"
            files.append(facts_path, facts_yaml(draft.facts, header=not facts_path.exists()))
        _load(corpus_dir, extras)  # the whole catalog, with the new notice, must load
    except Exception as exc:
        files.rollback()
        if isinstance(exc, PolicyError):
            raise AuthoringError(f"新文件未通过校验，已撤销全部写入：{exc.message_zh}") from exc
        raise
    return AddResult(doc_id, target, files.paths, new.repairs, new.clauses, new.entry, draft.programs, draft.facts,
                     region_note, new.notes + draft.notes)


def review_programs(doc_id: str, program_ids: list[str], *, corpus_dir: Path, extra_dirs: list[Path]) -> list[str]:
    """Mark draft programs of `doc_id` reviewed (all drafts when `program_ids` is empty); returns their ids."""
    folders = [corpus_dir, *extra_dirs]
    path = next((d / "rules" / f"{doc_id}.yaml" for d in folders if (d / "rules" / f"{doc_id}.yaml").exists()), None)
    if path is None:
        raise AuthoringError(f"找不到文件 {doc_id} 的规则文件 rules/{doc_id}.yaml。")
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    drafts = [p["id"] for p in data.get("programs") or [] if p.get("status") == "draft"]
    wanted = program_ids or drafts
    unknown = [p for p in wanted if p not in drafts]
    if unknown:
        raise AuthoringError(f"{'、'.join(unknown)} 不是 {doc_id} 的草稿项目（草稿：{'、'.join(drafts) or '无'}）。")
    new = text
    for pid in wanted:
        block = re.search(rf"(?ms)^  - id: {re.escape(pid)}\n(.*?)(?=^  - id: |\Z)", new)
        if block is None:
            raise AuthoringError(f"无法在 {path.name} 中定位项目 {pid}，请手工把 status 改为 reviewed。")
        body = re.sub(r"(?m)^    status: draft$", "    status: reviewed", block.group(1), count=1)
        body = re.sub(r"(?m)^    review_note: .*\n", "", body)
        new = new[:block.start(1)] + body + new[block.end(1):]
    path.write_text(new, encoding="utf-8")
    try:
        _load(corpus_dir, extra_dirs)
    except PolicyError as exc:
        path.write_text(text, encoding="utf-8")
        raise AuthoringError(f"审核后的规则未通过校验，已恢复原文件：{exc.message_zh}") from exc
    return wanted


# --- checking -------------------------------------------------------------------------------------------------
@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_corpus(corpus_dir: Path, extra_dirs: list[Path], settings=None) -> CheckReport:
    """Schema, clause references, quoted phrases, dates against the text, clean texts rebuilt from raw + repairs,
    drafts awaiting review, golden tests — and whether the index needs a build."""
    from corpus.clean import clean_text
    from tools.goldens import golden_files, load_golden, run_goldens

    report = CheckReport()
    try:
        catalog = _load(corpus_dir, extra_dirs)
    except PolicyError as exc:
        report.errors.append(f"语料加载失败：{exc.message_zh}")
        return report
    except (yaml.YAMLError, ValueError, OSError) as exc:
        report.errors.append(f"语料加载失败：{exc}")
        return report
    docs = catalog.documents
    report.lines.append(f"文件 {len(docs)} 个，条款 {len(catalog.clauses)} 条，已审核补助项目 {len(catalog.programs)} 个。")
    report.lines.append("格式、条款引用、原文短语、文件写明的日期：通过（加载时逐项校验）。")
    rebuilt = 0
    for folder in [corpus_dir, *extra_dirs]:
        path = folder / "documents.yaml"
        if not path.exists():
            continue
        for raw_doc in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("documents") or []:
            doc = docs.get(raw_doc.get("id"))
            if doc is None or not isinstance(doc, Document):
                continue
            raw_path = folder / "raw" / doc.seed_file
            if not raw_path.exists():
                continue
            try:
                ok = clean_text(raw_path.read_text(encoding="utf-8"), doc) == \
                    (folder / "clean" / f"{doc.id}.txt").read_text(encoding="utf-8")
            except Exception as exc:  # noqa: BLE001 - a repair that no longer matches is reported, not raised
                report.errors.append(f"{doc.id}：清洗记录无法重现清洗后的文本（{exc}）")
                continue
            if not ok:
                report.errors.append(f"{doc.id}：clean/{doc.id}.txt 与“原文 + 清洗记录”重建的结果不一致")
            rebuilt += 1
    report.lines.append(f"清洗后文本可由原文和清洗记录重建：{rebuilt} 个文件核对一致。" if rebuilt else "没有可核对的原文。")
    no_validity = [d.short_title for d in docs.values() if not d.validity_stated]
    if no_validity:
        report.lines.append(f"未写明有效期的文件（回答会说明“未规定有效期”）：{'、'.join(no_validity)}。")
    for draft in catalog.rules.drafts:
        report.warnings.append(f"{draft.id}（{draft.name}）仍是草稿，审核前不会用于回答：policy-assistant docs review {draft.doc_id}")
    try:
        results = run_goldens(catalog, [corpus_dir, *extra_dirs])
    except PolicyError as exc:
        report.errors.append(exc.message_zh)
        results = []
    tested = {load_golden(p).doc_id for p in golden_files([corpus_dir, *extra_dirs])}
    for doc in docs.values():
        if doc.id not in tested and any(p.doc_id == doc.id for p in catalog.programs):
            report.warnings.append(f"{doc.id} 没有黄金测试用例（tests/{doc.id}.yaml），建议为每个门槛和上限写 n−1、n、n+1 三例。")
    failed = [r for r in results if not r.ok]
    for r in failed:
        report.errors.append(f"黄金用例未通过 {r.doc_id} {r.case.id}：" + "；".join(r.problems))
    by_doc: dict[str, int] = {}
    for r in results:
        by_doc[r.doc_id] = by_doc.get(r.doc_id, 0) + 1
    report.lines.append(f"黄金用例 {len(results)} 例" + ("全部通过" if not failed else f"，{len(failed)} 例未通过")
                        + ("（" + "，".join(f"{d} {n} 例" for d, n in by_doc.items()) + "）" if by_doc else "") + "。")
    if settings is not None:
        try:
            from index.build import index_status

            status = index_status(settings)
            if not status.get("built"):
                report.warnings.append("检索索引尚未构建：policy-assistant index build")
            elif status.get("changed_docs"):
                report.warnings.append(f"检索索引需要更新（变化的文件：{'、'.join(status['changed_docs'])}）：policy-assistant index build")
        except Exception as exc:  # noqa: BLE001 - the index is optional for a data check
            report.warnings.append(f"未能读取索引状态：{exc}")
    return report
