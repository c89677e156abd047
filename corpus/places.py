"""A small gazetteer (corpus/lexicon/places.yaml): which places exist, what is inside what, and their short names.

Used by the retriever's "nothing relevant" decision and by the agent to tell a place the corpus covers from one it
does not (深圳, 北京…).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from corpus.yamlio import load_yaml

_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "新区", "省", "市", "区", "县")


def short_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class Gazetteer:
    parent: dict[str, str | None]  # canonical name → parent canonical name
    names: tuple[tuple[str, str], ...]  # (surface form, canonical), longest first

    def mentioned(self, text: str) -> list[str]:
        """Canonical places named in `text` (longest match first; overlapping shorter names ignored)."""
        taken = [False] * len(text)
        found: list[str] = []
        for surface, canonical in self.names:
            start = text.find(surface)
            while start >= 0:
                end = start + len(surface)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * (end - start)
                    if canonical not in found:
                        found.append(canonical)
                start = text.find(surface, end)
        return found

    def ancestors(self, name: str) -> list[str]:
        chain = [name]
        while (up := self.parent.get(chain[-1])) is not None:
            chain.append(up)
        return chain

    def canonical(self, name: str) -> str | None:
        for surface, canonical in self.names:
            if surface == name:
                return canonical
        return None


@lru_cache(maxsize=4)
def load_gazetteer(path: Path) -> Gazetteer:
    """The place hierarchy of corpus/lexicon/places.yaml (provinces, children, aliases)."""
    data = load_yaml(Path(path).read_text(encoding="utf-8"))
    parent: dict[str, str | None] = {p: None for p in data["provinces"]}
    for up, children in (data.get("children") or {}).items():
        for child in children:
            parent[child] = up
    surfaces: dict[str, str] = {}
    for name in parent:
        surfaces.setdefault(name, name)
        surfaces.setdefault(short_name(name), name)
    for name, aliases in (data.get("aliases") or {}).items():
        for alias in aliases or []:
            if len(alias) >= 2:
                surfaces.setdefault(alias, name)
    names = tuple(sorted(surfaces.items(), key=lambda kv: (-len(kv[0]), kv[0])))
    return Gazetteer(parent=parent, names=names)


