"""Turn the raw seed texts into cleaned texts by applying the recorded repairs, nothing else."""
from __future__ import annotations

import re
from pathlib import Path

from corpus.models import Document, Repair

RAW_DIR = Path(__file__).parent / "raw"
CLEAN_DIR = Path(__file__).parent / "clean"

# Applied to every document after its own repairs; listed so the repair log is complete.
GENERIC_REPAIRS: list[str] = [
    "删除行尾空白",
    "删除空行与行首缩进（PDF/Word转换产生的版面空白）",
]


class RepairError(ValueError):
    """A recorded repair no longer matches the raw text the way it was recorded."""


def apply_repair(text: str, repair: Repair, doc_id: str) -> str:
    if repair.regex:
        new_text, n = re.subn(repair.find, repair.replace, text)
    else:
        n = text.count(repair.find)
        new_text = text.replace(repair.find, repair.replace)
    if n != repair.count:
        raise RepairError(
            f"{doc_id}: repair {repair.reason!r} matched {n} times, expected {repair.count}"
        )
    return new_text


def clean_text(raw: str, doc: Document) -> str:
    text = raw.replace("\r\n", "\n")
    for repair in doc.repairs:
        text = apply_repair(text, repair, doc.id)
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line) + "\n"


def build_clean(doc: Document, raw_dir: Path = RAW_DIR) -> str:
    return clean_text((raw_dir / doc.seed_file).read_text(encoding="utf-8"), doc)


def write_all(docs: list[Document], out_dir: Path = CLEAN_DIR) -> list[Path]:
    """Regenerate corpus/clean/*.txt (committed; a test checks they are up to date)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in docs:
        path = out_dir / f"{doc.id}.txt"
        path.write_text(build_clean(doc), encoding="utf-8")
        paths.append(path)
    return paths
