"""A sixth policy notice added as data only runs through both agents, the eligibility check and the index.

tests/fixtures/sixth_doc/ is a synthetic notice (云溪市, five programs) laid out like corpus/: documents.yaml,
clean/, rules/, lexicon/. It is never in the corpus; Settings(extra_corpus_dirs=[...]) adds it. No Python knows
about it, so these tests fail the day any part of the pipeline needs code for a new document.

The first half is a shared contract every document must meet (the five real ones and the sixth), as haystack runs
one test suite over every document store: listing by region, each program answered with its own clause and no
error, the eligibility check over a profile in the document's region.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from agent.execute import PolicyTools
from agent.llm import LLMAssistant
from agent.offline import OfflineAssistant
from policy_assistant.settings import Settings
from tools.catalog import PolicyCatalog
from tools.eligibility import check_eligibility

SIXTH = Path(__file__).resolve().parent / "fixtures" / "sixth_doc"
AS_OF = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def catalog() -> PolicyCatalog:
    return PolicyCatalog.load(None, (SIXTH,))


@pytest.fixture(scope="module")
def agent(catalog) -> OfflineAssistant:
    return OfflineAssistant(Settings(extra_corpus_dirs=[str(SIXTH)]), catalog, retriever_factory=None)


def _documents():
    cat = PolicyCatalog.load(None, (SIXTH,))
    return sorted(cat.documents)


def _programs():
    cat = PolicyCatalog.load(None, (SIXTH,))
    return [p.id for p in cat.programs if not p.implements]


def test_the_sixth_document_is_in_the_catalog_from_data_alone(catalog):
    assert "yx-measures" in catalog.documents
    ids = [p.id for p in catalog.programs if p.doc_id == "yx-measures"]
    assert ids == ["yx-compute-rent", "yx-labeling-base", "yx-model-rd", "yx-smart-factory", "yx-open-source"]
    assert "yunxi" in [r.key for r in catalog.regions]
    assert "20万元(含)以上" in catalog.clauses["yx-measures:art1"].text


# --- the shared contract: every document ---------------------------------------------------------------------
@pytest.mark.parametrize("doc_id", _documents())
def test_every_document_lists_its_programs_by_region(catalog, agent, doc_id):
    region = next(r for r in catalog.regions if doc_id in r.docs)
    answer = agent.ask(f"{region.aliases[0]}有哪些人工智能补贴政策", as_of=AS_OF)
    assert answer.error is None and answer.status == "answered"
    own = [p for p in catalog.programs if p.doc_id == doc_id]
    # an application guide's programs implement the measures' programs: those are what a region's list names
    listed = [catalog.program(p.implements) if p.implements else p for p in own]
    assert any(p.name in answer.answer for p in listed)
    assert any(c.id.split(":")[0] in {p.doc_id for p in listed} for c in answer.citations)


@pytest.mark.parametrize("program_id", _programs())
def test_every_program_is_answered_with_its_own_clause(catalog, agent, program_id):
    program = catalog.program(program_id)
    answer = agent.ask(f"{program.name}最高能补多少？", as_of=AS_OF)
    assert answer.error is None and answer.status in ("answered", "needs_info")
    assert program.name in answer.answer
    assert set(program.clause_ids) & {c.id for c in answer.citations}


@pytest.mark.parametrize("doc_id", _documents())
def test_every_document_takes_part_in_the_eligibility_check(catalog, doc_id):
    region = next(r for r in catalog.regions if doc_id in r.docs)
    result = check_eligibility({"location": {"city": region.aliases[0]}, "facts": {}}, AS_OF, catalog)
    own = [r for r in result.items if r.program_id in {p.id for p in catalog.programs if p.doc_id == doc_id}]
    assert own, f"{doc_id} has no program in the eligibility check"
    assert all(r.status != "not_eligible" or r.reasons for r in own)  # a “no” always says why
    assert any(r.status == "needs_info" and r.ask for r in own)  # nothing stated yet: the check asks for facts
    assert not any("地区" in " ".join(r.reasons) for r in own)  # in its own region, never excluded by region


# --- the sixth document end to end -----------------------------------------------------------------------------
@pytest.mark.parametrize("question,program,amount", [
    ("云溪市的算力租赁补助：我们今年租算力花了50万，能补多少？", "yx-compute-rent", 200_000),   # 50万×40%
    ("云溪的算力租赁，今年花了100万", "yx-compute-rent", 300_000),                            # 40万 → cap 30万
    ("云溪的数据标注基地，我们新认定为省级，奖励多少", "yx-labeling-base", 1_500_000),
    ("云溪市模型研发补助，今年模型研发投入450万", "yx-model-rd", 200_000),                   # 4 × 5万
])
def test_amounts_come_from_the_sixth_documents_rules(agent, question, program, amount):
    answer = agent.ask(question, as_of=AS_OF)
    assert answer.error is None and answer.status == "answered"
    assert [(c.program_id, c.amount_yuan) for c in answer.calculations] == [(program, amount)]
    assert any(c.id.startswith("yx-measures:") for c in answer.citations)


def test_a_failed_condition_of_the_sixth_document_is_quoted(agent):
    answer = agent.ask("云溪的算力租赁补助，今年租算力花了15万，能补多少", as_of=AS_OF)
    calc = answer.calculations[0]
    assert calc.program_id == "yx-compute-rent" and calc.eligible is False
    assert "20万元(含)以上" in answer.answer


def test_validity_contacts_and_a_district_without_its_own_policy(agent):
    validity = agent.ask("云溪市的措施有效期到什么时候", as_of=AS_OF)
    assert "2027年12月31日" in validity.answer and [c.id for c in validity.citations] == ["yx-measures:notes.2"]
    contacts = agent.ask("云溪的补贴找谁咨询", as_of=AS_OF)
    assert "0000-1234567" in contacts.answer
    district = agent.ask("青石区自己的AI补贴政策有吗", as_of=AS_OF)
    assert district.calculations == [] and "青石区" in district.answer and "云溪市" in district.answer


def test_the_sixth_documents_period_decides_coverage(agent):
    before = agent.ask("云溪的算力租赁补助，2025年租算力花了50万，能补多少", as_of=AS_OF)
    assert before.calculations[0].eligible is False and "2026年1月1日" in before.answer


def test_the_llm_agent_uses_the_sixth_document_through_the_shared_tools(catalog):
    from tests.test_llm_agent import ScriptedChatModel, call

    def final(messages):
        calc = next(json.loads(m.content) for m in reversed(messages)
                    if isinstance(m, ToolMessage) and m.name == "calculate_award")
        return AIMessage(f"按云溪市算力租赁补助，最高可获得{calc['amount_yuan'] // 10000}万元。")

    model = ScriptedChatModel(script=[
        call("list_programs", region="云溪"),
        call("calculate_award", program_id="yx-compute-rent", facts={"yx_compute_rent_yuan": "50万"}),
        final])
    assistant = LLMAssistant(model, PolicyTools(catalog, None), fallback=None, injection_check=lambda q: False)
    answer = assistant.ask("云溪租算力50万能补多少", as_of=AS_OF)
    listed = next(json.loads(m.content) for m in model.seen[1] if isinstance(m, ToolMessage))
    assert "yx-compute-rent" in json.dumps(listed, ensure_ascii=False)
    assert [(c.program_id, c.amount_yuan) for c in answer.calculations] == [("yx-compute-rent", 200_000)]
    assert "20万元" in answer.answer and answer.error is None


def test_the_index_serves_the_sixth_documents_clauses(tmp_path):
    """Built with the real default embedder into a temporary folder: the notice is searchable with no code."""
    from index import build_index
    from policy_assistant.services import Services

    services = Services(Settings(data_dir=str(tmp_path), extra_corpus_dirs=[str(SIXTH)], as_of=AS_OF))
    build_index(services.settings, progress=False)
    hits = services.search("云溪 数据标注基地 奖励", k=3).hits
    assert hits and hits[0].id == "yx-measures:art2"
