"""Chunking: every clause of every document becomes chunks with its document's metadata; long clauses split at
numbered items or headings, never inside a sentence; test-only clauses can be added."""
from __future__ import annotations

import re

import pytest

from corpus import clause_index, load_clauses, load_documents
from index.chunking import MAX_CHUNK_CHARS, DocMeta, chunk_clauses, corpus_chunks, load_extra_corpus, split_text
from index.ordinals import label_ordinals, query_ordinals
from index.types import Chunk


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return corpus_chunks()


@pytest.mark.parametrize("doc", load_documents(), ids=lambda d: d.id)
def test_every_clause_of_every_document_is_chunked(chunks, doc):
    clauses = [c for c in load_clauses() if c.doc_id == doc.id]
    assert clauses
    doc_chunks = [c for c in chunks if c.doc_id == doc.id]
    assert {c.clause_id for c in doc_chunks} == {c.id for c in clauses}
    for chunk in doc_chunks:
        assert chunk.document == doc.title
        assert chunk.doc_number == doc.doc_number
        assert chunk.region == doc.region and list(chunk.region_path) == doc.region_path
        assert chunk.level == doc.level
        assert chunk.effective_from == doc.span_from.isoformat()
        assert chunk.effective_to == doc.span_to.isoformat()
        assert chunk.clause == clause_index()[chunk.clause_id].label_path
        assert chunk.kind == clause_index()[chunk.clause_id].kind


def test_chunk_ids_unique_and_stable(chunks):
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids))
    assert corpus_chunks() == chunks  # deterministic
    assert "xm-measures:1.3" in ids and "siming:art2" in ids


def test_unsplit_chunks_carry_the_verbatim_clause(chunks):
    for chunk in chunks:
        if chunk.parts == 1:
            assert chunk.text == clause_index()[chunk.clause_id].text
            assert chunk.id == chunk.clause_id


def test_long_clauses_are_split_into_verbatim_pieces_at_line_or_sentence_ends(chunks):
    split = [c for c in chunks if c.parts > 1]
    assert split, "the Quanzhou application form is longer than one chunk"
    for clause_id in {c.clause_id for c in split}:
        text = clause_index()[clause_id].text
        pieces = sorted((c for c in split if c.clause_id == clause_id), key=lambda c: c.part)
        assert [p.part for p in pieces] == list(range(1, len(pieces) + 1))
        pos = 0
        for piece in pieces:
            start = text.index(piece.text, pos)
            assert text[pos:start] in ("", "\n"), "pieces are contiguous"
            end = start + len(piece.text)
            # never mid-sentence: a piece ends at a line end or after 。；！？
            assert end == len(text) or text[end] == "\n" or text[end - 1] in "。；;！？!?"
            pos = end
        assert pos == len(text)
        assert all(len(p.text) <= MAX_CHUNK_CHARS for p in pieces)


def test_application_form_splits_at_its_section_headings(chunks):
    parts = [c for c in chunks if c.clause_id == "quanzhou:att1"]
    sections = [c.section for c in parts]
    for heading in ("算力服务补助方向：", "“领雁”软件企业方向：", "软件优质产品方向：", "硬件优质产品方向：", "典型应用场景方向："):
        assert heading in sections
    assert all(c.kind == "attachment" for c in parts)


def test_attachments_are_marked(chunks):
    kinds = {c.clause_id: c.kind for c in chunks}
    assert kinds["xm-guide:att1"] == "attachment"
    assert kinds["xm-guide:attachments"] == "attachment_list"
    assert kinds["anhui:att1"] == "attachment"


def test_indexed_text_is_prefixed_with_title_and_label_path(chunks):
    chunk = next(c for c in chunks if c.id == "siming:art3")
    assert chunk.indexed_text.startswith("思明区关于推动人工智能产业发展的若干措施 第三条 鼓励模型算法应用\n")
    measures = next(c for c in chunks if c.id == "xm-measures:1.3")
    assert "厦府办规〔2023〕10号" in measures.indexed_text.split("\n", 1)[0]
    assert measures.embedded_text.startswith("厦门市 一、强化算力供给 > （三）推广普惠算力服务\n")


def test_split_text_cuts_an_overlong_line_after_sentences():
    sentence = "这是一句完整的话。"
    text = sentence * 100
    pieces = split_text(text, limit=100)
    assert "".join(pieces) == text
    assert all(p.endswith("。") and len(p) <= 100 for p in pieces)


def test_extra_clauses_and_documents(tmp_path):
    (tmp_path / "clean").mkdir()
    (tmp_path / "documents.yaml").write_text(
        "documents:\n  - {id: test-extra, title: 测试用补充通知, region: 厦门市, region_path: [福建省, 厦门市], level: city,"
        " effective_from: 2025-01-01, effective_to: 2027-12-31}\n", encoding="utf-8")
    (tmp_path / "clean" / "test-extra.txt").write_text("测试用补充通知\n第一条 测试条款\n对测试企业给予测试奖励。\n", encoding="utf-8")
    clauses, documents = load_extra_corpus(tmp_path)
    chunks = corpus_chunks(clauses, documents)
    extra = [c for c in chunks if c.doc_id == "test-extra"]
    assert {c.clause_id for c in extra} == {"test-extra:preamble", "test-extra:art1"}
    assert all(c.extra and c.document == "测试用补充通知" and c.doc_number == "" for c in extra)
    assert not any(c.extra for c in chunks if c.doc_id != "test-extra")
    with pytest.raises(ValueError):
        corpus_chunks(clauses, [])  # clauses of an unknown document
    with pytest.raises(ValueError):
        corpus_chunks([], [dict(documents[0], id="siming")])  # may not shadow a corpus document


def test_chunk_clauses_accepts_mappings():
    meta = DocMeta.from_any({"id": "d", "title": "T", "region": "厦门市", "level": "city",
                             "effective_from": "2025-01-01", "effective_to": "2025-12-31"})
    [chunk] = chunk_clauses([{"id": "d:art1", "doc_id": "d", "labels": ["第一条"], "kind": "body", "text": "正文。"}],
                            {"d": meta})
    assert chunk.clause == "第一条" and chunk.region_path == ("厦门市",)
    assert Chunk.from_dict(chunk.to_dict()) == chunk


@pytest.mark.parametrize(("query", "expected"), [
    ("思明区第三条", [("num", 3)]),
    ("若干措施第十一条", [("num", 11)]),
    ("厦门措施（八）", [("num", 8)]),
    ("申报指南附件2", [("att", 2)]),
    ("算力券怎么申请", []),
])
def test_query_ordinals(query, expected):
    assert query_ordinals(query) == expected


def test_label_ordinals():
    assert label_ordinals("一、强化算力供给 > （三）推广普惠算力服务") == (("num", 1), ("num", 3))
    assert label_ordinals("第十条 落地优质产业资源") == (("num", 10),)
    assert label_ordinals("附件1 智算中心扶持申请表") == (("att", 1),)
    assert label_ordinals("有关说明 > （二）") == (None, ("num", 2))


def test_no_chunk_text_is_empty(chunks):
    assert all(c.text.strip() for c in chunks)
    assert all(not re.search(r"\n\n", c.text) for c in chunks)
