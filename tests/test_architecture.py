"""Fitness tests for the shape of the code: document knowledge lives in corpus/ data, and layers point one way.

- No document id, program id, clause id, place name or lexicon cue word is written in agent/*.py or tools/*.py
  (outside docstrings and comments): a sixth document must need no code (tests/test_sixth_document.py runs one).
- No subsidy figure or date from the rules is spelled in agent/*.py or tools/*.py (the calculator computes them).
- Imports: tools/ is the bottom layer (it imports nothing from agent/, ui/, index/, evals/ or the service layer), no
  import cycle between modules of one package, and no role imports a shell's CLI (tools/cli.py, agent/cli.py,
  index/cli.py, ui/cli.py) or the evals.
"""
from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from pathlib import Path

import pytest

from tools.catalog import default_catalog

REPO = Path(__file__).resolve().parent.parent
ROLE_MODULES = sorted([*(REPO / "agent").glob("*.py"), *(REPO / "tools").glob("*.py")])


def _docstring_lines(source: str) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _string_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal that is code, not a docstring; comments are not tokens we read."""
    docs = _docstring_lines(source)
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.start[0] in docs:
            continue
        if tok.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)):
            out.append((tok.start[0], tok.string))
    return out


@functools.lru_cache(maxsize=1)
def _document_words() -> dict[str, str]:
    """Every word that names something of a particular document: ids, places, programs' aliases, fact cues."""
    cat = default_catalog()
    words: dict[str, str] = {}
    for doc_id, doc in cat.documents.items():
        words[doc_id] = "document id"
        words[doc.title] = "document title"
    for program in cat.programs:
        words[program.id] = "program id"
        words[program.name] = "program name"
        for alias in program.aliases:
            if len(alias) >= 3:
                words[alias] = f"alias of {program.id}"
    for clause_id in cat.clauses:
        words[clause_id] = "clause id"
    for region in cat.regions:
        words[region.key] = "region key"
        for alias in region.aliases:
            if len(alias) >= 2 and not alias.isascii():
                words[alias] = f"name of region {region.key}"
        for place in region.places:
            for alias in place.aliases:
                if len(alias) >= 2 and not alias.isascii():
                    words[alias] = f"place in {region.key}"
    # the cues of a fact only one document uses are that document's words; a fact several documents share
    # (独立法人) and short everyday words (已完成, 第一次) are the language of the domain
    docs_of_fact: dict[str, set[str]] = {}
    for program in cat.programs:
        for name in program.facts:
            docs_of_fact.setdefault(name, set()).add(program.doc_id)
    for fd in cat.facts.values():
        if len(docs_of_fact.get(fd.name, ())) != 1:
            continue
        for cue in [*fd.cues, *fd.negative_cues, *fd.topics]:
            if len(cue) >= 4 and not cue.isascii():
                words[cue] = f"cue of fact {fd.name}"
    return words


def _literals_naming_documents(source: str) -> list[str]:
    words = _document_words()
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    found = []
    for line, text in _string_literals(source):
        for m in pattern.finditer(text):
            # an ASCII id counts only as a whole token ("anhui" in "anhui:2", not in "xanhuix")
            if m.group(0).isascii() and (text[m.start() - 1:m.start()].isalnum() or text[m.end():m.end() + 1].isalnum()):
                continue
            found.append(f"line {line}: {m.group(0)!r} ({words[m.group(0)]})")
    return found


def test_the_document_word_scan_catches_what_it_should():
    src = '"""Docstring about 厦门 is fine."""\nx = "anhui:2"\ny = "思明区的AI券"\n# comment 泉州 is fine\nz = "some text"\n'
    found = _literals_naming_documents(src)
    assert any("anhui:2" in f for f in found) and any("思明" in f for f in found)
    assert not any("厦门" in f or "泉州" in f for f in found)


@pytest.mark.parametrize("path", ROLE_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_document_knowledge_in_agent_or_tools_code(path):
    """Document ids, place names, program aliases and fact cues belong in corpus/ data (the catalog and lexicon)."""
    assert _literals_naming_documents(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", ROLE_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_subsidy_figures_in_agent_or_tools_code(path):
    """No amount, rate or date of the rules spelled in code. (tests/test_rules.py holds the calculator's modules to
    a stricter scan: no number ≥ 1000 at all.)"""
    from tests.test_rules import _rules_figures, _suspicious

    numbers, _ = _rules_figures()
    found = _suspicious(path.read_text(encoding="utf-8"))
    figures = [f for f in found if not re.fullmatch(r"[\d_]+|0x[0-9A-Fa-f]+|\d+\.\d+", f)
               or (f.replace("_", "").isdigit() and int(f.replace("_", "")) in numbers
                   and f.replace("_", "").rstrip("0") != "1")]  # powers of ten are units, not figures
    assert figures == []


# --- layers ----------------------------------------------------------------------------------------------------
PACKAGES = ("tools", "agent", "index", "ui", "corpus", "evals", "policy_assistant")
CLI_MODULES = {"tools.cli", "agent.cli", "index.cli", "ui.cli", "policy_assistant.cli", "evals.cli"}


@functools.lru_cache(maxsize=1)
def _imports() -> dict[str, set[str]]:
    """module → project modules it imports (anywhere in the file, including imports inside functions)."""
    graph: dict[str, set[str]] = {}
    for pkg in PACKAGES:
        for path in (REPO / pkg).glob("*.py"):
            mod = f"{pkg}.{path.stem}" if path.stem != "__init__" else pkg
            deps: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                for name in names:
                    if name.split(".")[0] in PACKAGES:
                        deps.add(".".join(name.split(".")[:2]))
            graph[mod] = {d for d in deps if d != mod}
    known = set(graph)
    return {m: {d for d in deps if d in known} for m, deps in graph.items()}


def test_tools_is_the_bottom_layer():
    bad = {m: sorted(d for d in deps if d.split(".")[0] in ("agent", "ui", "index", "evals", "policy_assistant"))
           for m, deps in _imports().items() if m.startswith("tools") and m != "tools.cli"}
    assert {m: d for m, d in bad.items() if d} == {}


def test_agent_does_not_reach_up_into_the_front_ends():
    bad = {m: sorted(d for d in deps if d.split(".")[0] in ("ui", "evals"))
           for m, deps in _imports().items() if m.startswith("agent") and m != "agent.cli"}
    assert {m: d for m, d in bad.items() if d} == {}


def test_no_role_imports_a_shell_or_the_evals():
    """CLIs are shells around the roles; the evals measure the roles. Neither is imported by a role."""
    roles = [m for m in _imports() if m.split(".")[0] in ("tools", "agent", "index", "corpus") and m not in CLI_MODULES]
    bad = {m: sorted(d for d in _imports()[m] if d in CLI_MODULES or d.startswith("evals")) for m in roles}
    assert {m: d for m, d in bad.items() if d} == {}


def test_no_import_cycles_within_a_package():
    graph = _imports()

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for dep in graph.get(node, ()):
                if dep.split(".")[0] != start.split(".")[0] or dep == start.split(".")[0]:
                    continue
                if dep == start:
                    return path + [dep]
                if dep not in path:
                    stack.append((dep, path + [dep]))
        return None

    cycles = {m: c for m in graph if (c := cycle_from(m))}
    assert cycles == {}


def test_the_cycle_check_can_fail(monkeypatch):
    fake = {"tools.a": {"tools.b"}, "tools.b": {"tools.a"}}
    monkeypatch.setattr(__import__(__name__), "_imports", lambda: fake)
    with pytest.raises(AssertionError):
        test_no_import_cycles_within_a_package()
