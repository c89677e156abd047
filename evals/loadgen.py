"""Never-seen questions for load tests and latency benchmarks: places × subjects × amounts × phrasings.

Subjects come from the catalog (program names and aliases, cue words of the programs' money facts), places from the
lexicon's regions, phrasings from evals/load_phrasings.yaml. Questions are distinct by construction: a seeded
generator draws amounts until a question is new, so a load test sends each one once and nothing is served from a
cache a repeated question would hit.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator

PHRASINGS_FILE = Path(__file__).with_name("load_phrasings.yaml")


def _load_phrasings(path: Path = PHRASINGS_FILE) -> dict[str, list[str]]:
    from corpus.yamlio import load_yaml

    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return {kind: [str(p) for p in data.get(kind) or []] for kind in ("amount", "lookup")}


def subjects(catalog) -> list[tuple[str, str, list[str]]]:
    """(program id, region key, subjects) for every program with a money fact: its name, aliases and fact cues."""
    out = []
    for program in catalog.programs:
        money_facts = [catalog.facts[n] for n in program.facts if n in catalog.facts and catalog.facts[n].unit == "yuan"]
        if not money_facts:
            continue
        words = [program.short_name or program.name, *program.aliases]
        for fact in money_facts:
            words += [c for c in fact.cues if len(c) >= 2]
        out.append((program.id, catalog.region_of(program), list(dict.fromkeys(w for w in words if w))))
    return out


def _place_names(catalog, region_key: str) -> list[str]:
    region = catalog.region(region_key)
    names = [a for a in region.aliases if any("\u4e00" <= ch <= "\u9fff" for ch in a) and len(a) <= 4]
    return names or [region.name]


def _amount(rng: random.Random) -> str:
    wan = rng.randint(3, 4000)
    style = rng.random()
    if style < 0.6:
        return f"{wan}万元"
    if style < 0.8:
        return f"{wan}万"
    return f"{wan * 10000}元"


def never_seen_questions(catalog, *, seed: int = 20261130, kinds: tuple[str, ...] = ("amount", "lookup"),
                         exclude: set[str] | None = None) -> Iterator[str]:
    """An endless stream of distinct questions (deterministic for a seed)."""
    phrasings = _load_phrasings()
    templates = [t for kind in kinds for t in phrasings[kind]]
    pool = subjects(catalog)
    places = {region: _place_names(catalog, region) for _, region, _ in pool}
    rng = random.Random(seed)
    seen: set[str] = set(exclude or ())
    misses = 0
    while True:
        _, region, words = rng.choice(pool)
        question = rng.choice(templates).format(place=rng.choice(places[region]), subject=rng.choice(words),
                                                amount=_amount(rng))
        if question in seen:
            misses += 1
            if misses > 10_000:  # pragma: no cover - the space is millions of questions
                raise RuntimeError("question space exhausted")
            continue
        seen.add(question)
        yield question


def take(catalog, n: int, **kwargs) -> list[str]:
    """The first `n` never-seen questions of the stream."""
    out = []
    for q in never_seen_questions(catalog, **kwargs):
        out.append(q)
        if len(out) >= n:
            break
    return out
