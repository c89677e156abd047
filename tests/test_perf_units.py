"""The performance work keeps behaviour identical: each faster path is checked against the slow one it replaces
(YAML loaders, figure reading, jieba's dictionary, BM25 files, the exact vector store, the catalog cache), plus the
benchmark's own machinery (never-seen questions, the lean load client, the table). No timing assertions: speed is
measured by `policy-assistant bench`, never asserted in tests."""
from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml

from policy_assistant.settings import REPO_ROOT, Settings


# --- YAML ------------------------------------------------------------------------------------------------------------
def test_c_loader_reads_every_data_file_as_the_python_loader_does():
    from corpus.yamlio import load_yaml

    files = [p for p in REPO_ROOT.glob("**/*.yaml") if ".venv" not in p.parts and "test-artifacts" not in p.parts]
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert load_yaml(text) == yaml.load(text, Loader=yaml.SafeLoader), path


def test_c_loader_stays_safe():
    from corpus.yamlio import load_yaml

    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object/apply:os.system ['true']")


# --- guard figures -----------------------------------------------------------------------------------------------------
def _whole(text: str) -> list[tuple]:
    from tools.money import find_money, find_percents

    found = [("money", Decimal(m.value_yuan), m.raw, m.end) for m in find_money(text)]
    found += [("percent", Decimal(m.value), m.raw, m.end) for m in find_percents(text)]
    return [f[:3] for f in sorted(found, key=lambda f: (f[3], f[0]))]


@pytest.mark.parametrize("text", [
    "20至\n50万元", "80\n万元", "人民币\n80万", "RMB\n5万", "五成\n员工", "共计30万\n元", "最高50%\n。", "a\n3万元",
    "第一行。\n30万元补助\n下一行20%", "按其年度服务收入最高10%给予运营补贴，\n每家企业最高不超过100万元。\n\n",
    "- 10\n- 20万元", "一、\n（一）30万元；\n（二）百分之五十", "",
])
def test_figures_read_segment_by_segment_equal_the_whole_text(text):
    """Reading figures per memoised segment finds what reading the whole text finds (the cut is only made where no
    figure can span a line break)."""
    from agent import guard

    got = [(f.kind, f.value, f.text) for f in sorted(guard.find_figures(text), key=lambda f: (f.end, f.kind))]
    assert got == _whole(text)


def test_figures_of_every_clause_and_random_joins(tmp_path):
    from agent import guard
    from tools.catalog import default_catalog

    texts = [c.text for c in default_catalog().clauses.values()]
    rng = random.Random(7)
    texts += ["\n".join(rng.sample(texts, 3)) for _ in range(50)]
    for text in texts:
        got = [(f.kind, f.value, f.text) for f in sorted(guard.find_figures(text), key=lambda f: (f.end, f.kind))]
        assert got == _whole(text)


def test_guard_reads_evidence_until_every_figure_is_found_with_the_same_verdicts(monkeypatch):
    """The guard stops reading evidence once every figure of the answer is found in it; the figures it calls
    untraceable are those the whole evidence does not hold, for real answers and for answers with a figure added."""
    from agent import guard
    from agent.offline import OfflineAssistant
    from evals.loadgen import take
    from tools.catalog import default_catalog

    catalog = default_catalog()
    seen: list[tuple] = []
    real_check = guard.check

    def recording(answer_text, citations, calculations, retrieved_ids, evidence_texts, clauses=None):
        seen.append((answer_text, list(citations), list(calculations), list(evidence_texts)))
        return real_check(answer_text, citations, calculations, retrieved_ids, evidence_texts, clauses)

    monkeypatch.setattr(guard, "check", recording)
    agent = OfflineAssistant(Settings(), catalog, retriever_factory=None)
    questions = take(catalog, 80, seed=3) + ["厦门算力券能补多少", "思明区AI券最高多少", "安徽算力补贴 租了200万的GPU"]
    for question in questions:
        agent.ask(question, session_id=None)
    assert len(seen) >= len(questions)
    checked = 0
    for text, citations, calculations, texts in seen:
        for variant in (text, text + "另可获得123456元奖励，比例为37%。", "共50%，计30万元"):
            slow = guard.untraceable_figures(variant, guard.Evidence.collect(citations, calculations, texts))
            assert guard._untraceable(variant, citations, calculations, texts) == slow
            checked += bool(slow)
    assert checked >= len(seen)  # the added figures were found untraceable


def test_program_mentions_skip_only_names_that_cannot_match():
    """Names whose letters are not all in the question are skipped unread; the mentions are those of matching
    every name of every program (the eval questions, never-seen ones, names with a letter dropped or a word
    inserted)."""
    import yaml as _yaml

    from agent.understand import ProgramMention, Reader
    from evals.loadgen import take
    from tools.catalog import default_catalog

    catalog = default_catalog()
    reader = Reader(catalog)

    def every_name(text: str) -> list[ProgramMention]:
        lowered = text.lower()
        out = []
        for program in catalog.programs:
            best = max(((*Reader.alias_match(a.lower(), lowered), a) for a in program.names()),
                       default=(0, (0, 0), ""), key=lambda t: t[0])
            if best[0]:
                bonus = sum(2 for n in program.facts if n in reader._distinctive
                            for c in catalog.facts[n].cues if len(c) >= 3 and c in text)
                out.append(ProgramMention(program.id, best[0] + min(bonus, 6), best[2], best[1]))
        order = {p.id: i for i, p in enumerate(catalog.programs)}
        return sorted(out, key=lambda m: (-m.score, order[m.program_id]))

    texts = take(catalog, 150, seed=5)
    for path in (REPO_ROOT / "evals" / "gold").glob("*.yaml"):
        for case in (_yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("cases", []):
            asked = [case.get("question"), *(t.get("question") for t in case.get("turns", []))]
            texts += [q for q in asked if isinstance(q, str)]
    names = [n for p in catalog.programs for n in p.names()]
    texts += names + [n[:i] + n[i + 1:] for n in names for i in {0, len(n) // 2}]
    texts += [n[:i] + "高级" + n[i:] for n in names for i in {1, len(n) // 2}]  # letters in order, with gaps + [f"请问{n[::-1]}能补多少" for n in names]
    assert len(texts) > 500
    for text in texts:
        text = reader.normalize(text)
        assert reader.program_mentions(text) == every_name(text), text


def test_plain_numerals_read_without_the_loop_equal_the_loop(monkeypatch):
    """An Arabic number, alone or with one 万/亿, is read directly; the value is the general reader's."""
    import re as _re

    from evals.loadgen import take
    from tools import money
    from tools.catalog import default_catalog
    from tools.errors import MoneyParseError

    catalog = default_catalog()
    texts = [c.text for c in catalog.clauses.values()] + take(catalog, 300, seed=13)
    numerals = {m.group("num") for t in texts for m in money._MONEY_RE.finditer(t) if m.group("num")}
    numerals |= {"0", "007", "3795", "3795万", "1.5亿", "0.8万", "30.", ".5万", "3万5", "1亿5000万", "１２万", "١٢", "12万万",
                 "2,000万", "三十万", "1千万", "0.000001亿", "99999999999999万"}
    assert len(numerals) > 200

    def read(text):
        try:
            return money._parse_numeral(text)
        except MoneyParseError as exc:
            return type(exc)

    fast = {n: read(n) for n in numerals}
    monkeypatch.setattr(money, "_PLAIN_NUMERAL", _re.compile(r"(?!)(x)(y)"))  # never matches: the loop reads all
    assert fast == {n: read(n) for n in numerals}


def test_range_head_check_finds_what_the_anchored_search_finds():
    """The quick test for a range connector at the end rules out only texts the anchored pattern cannot match."""
    from tools import money
    from tools.catalog import default_catalog

    texts = [c.text for c in default_catalog().clauses.values()]
    texts += ["20至50万元", "20 至 \n50万元", "10-20%", "5~8万", "三到五万元", "1.5－2亿元", "2. -3000万元", "第3—", "至",
              "20至\n", "20至 \u3000", "百分之十至", "30，000至", "x" * 300 + "12至"]
    rng = random.Random(11)
    for text in texts:
        ends = {i + k for i, ch in enumerate(text) if ch in "至到-－~～—–" for k in (1, 2, 3)}
        ends |= {rng.randrange(len(text) + 1) for _ in range(20)} | {len(text)}
        for end in sorted(e for e in ends if e <= len(text)):
            before = text[:end]
            fast, slow = money._range_head(before), money._RANGE_HEAD_RE.search(before)
            assert (fast and (fast.span(), fast.group("num"))) == (slow and (slow.span(), slow.group("num"))), before


# --- jieba's dictionary from SQLite ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served():
    from index.testing import built_index

    return built_index("hash")


def test_prefix_dictionary_tokenizes_exactly_as_jieba(served, tmp_path):
    from evals.loadgen import take
    from evals.retrieval_eval import load_queries
    from index.build import IndexPaths, load_chunks, prefix_dict_path, read_manifest
    from index.tokenize import PolicyTokenizer, default_tokenizer
    from tools.catalog import default_catalog

    paths = IndexPaths(Path(served.index_dir))
    build = paths.current_build()
    path = prefix_dict_path(paths, read_manifest(build)["tokenizer"])
    assert path.exists()  # written by the build
    lazy, full = PolicyTokenizer(prefix_dict=path), default_tokenizer()
    positives, negatives = load_queries()
    texts = [c.indexed_text for c in load_chunks(build)] + [q["query"] for q in positives + negatives]
    texts += take(default_catalog(), 200) + ["ＧＰＵ算力券　ABC 123", "", "！！！"]
    for text in texts:
        assert lazy.tokens(text) == full.tokens(text)
        assert lazy.query(text) == full.query(text)
    lazy.add_terms(["测试专用新词"])
    assert "测试专用新词" in lazy.tokens("这是测试专用新词吗")
    with pytest.raises(ValueError):
        lazy.export_prefix_dict(tmp_path / "x.sqlite")


def test_an_opening_question_asked_again_gets_the_same_answer_and_memory(served):
    """An opening question asked a third time is answered from what the second answer left: the same answer (its
    own session id), the same memory, the same follow-up answers as answering it afresh; with retrieval too."""
    import datetime as dt

    from agent.offline import OfflineAssistant
    from evals.loadgen import take
    from index import open_retriever
    from tools.catalog import default_catalog

    catalog = default_catalog()
    retriever = open_retriever(served)
    as_of = dt.date(2026, 11, 22)
    kept = OfflineAssistant(Settings(), catalog, retriever_factory=lambda: retriever)
    kept.warm_up()  # as a server does: the build searched is known from the first question on
    questions = take(catalog, 12, seed=9) + ["厦门算力券能补多少", "思明区AI券怎么申请", "泉州有哪些人工智能补助", "今天天气怎么样"]
    follow_ups = ["我们买了80万的算力", "需要什么材料"]
    for i, question in enumerate(questions):
        fresh = OfflineAssistant(Settings(), catalog, retriever_factory=lambda: retriever)
        expected = fresh.ask(question, session_id="f", as_of=as_of)
        memory = fresh.export_session("f")
        for n in range(3):  # the third time is answered from what the second left
            got = kept.ask(question, session_id=f"k{i}-{n}", as_of=as_of)
            assert got.model_dump(exclude={"session_id"}) == expected.model_dump(exclude={"session_id"}), question
            assert got.session_id == f"k{i}-{n}"
            assert kept.export_session(f"k{i}-{n}") == {**memory, "session_id": f"k{i}-{n}"}
        assert kept._first_turns[(question, as_of, retriever.build_id)] is not None
        for follow_up in follow_ups:  # the kept memory carries the conversation on as the original would
            again = kept.ask(follow_up, session_id=f"k{i}-2", as_of=as_of)
            original = fresh.ask(follow_up, session_id="f", as_of=as_of)
            assert again.model_dump(exclude={"session_id"}) == original.model_dump(exclude={"session_id"}), question
        later = kept.ask(question, session_id=f"k{i}-later", as_of=as_of)  # what is kept was not changed by them
        assert later.model_dump(exclude={"session_id"}) == expected.model_dump(exclude={"session_id"}), question
        assert kept.export_session(f"k{i}-later") == {**memory, "session_id": f"k{i}-later"}
    assert kept.ask(questions[0], session_id="other-day", as_of=as_of + dt.timedelta(days=400)).question == questions[0]
    assert (questions[0], as_of + dt.timedelta(days=400), retriever.build_id) in kept._first_turns


def test_a_question_that_needs_no_search_opens_no_index():
    """Keeping opening answers does not open the index for a question answered from the rules (a one-shot `ask`
    without retrieval stays free of it)."""
    from agent.offline import OfflineAssistant
    from tools.catalog import default_catalog

    opened = []
    agent = OfflineAssistant(Settings(), default_catalog(), retriever_factory=lambda: opened.append(1))
    for session in ("a", "b", "c"):
        assert agent.ask("厦门算力券最高能补多少", session_id=session).citations
    assert opened == []


def test_bm25_read_without_bm25s_matches_bm25s(served):
    import bm25s

    from index.bm25 import BM25Index
    from index.build import IndexPaths

    directory = IndexPaths(Path(served.index_dir)).current_build() / "bm25"
    ours, theirs = BM25Index.load(directory), bm25s.BM25.load(str(directory), mmap=True)
    assert ours.vocab == theirs.vocab_dict and ours.num_docs == theirs.scores["num_docs"]
    for key in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(ours, f"_{key}"), theirs.scores[key])
    with pytest.raises(ValueError):
        ours.save(directory)  # only an index built in this process can be saved


# --- exact vector store --------------------------------------------------------------------------------------------------
def test_exact_store_matches_brute_force_with_and_without_filters():
    from index.vector_store import ExactStore, VectorStore

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"c{i}" for i in range(300)]
    docs = [f"d{i % 7}" for i in range(300)]
    store = ExactStore(ids, docs, vectors)
    assert isinstance(store, VectorStore) and store.exact and store.count() == 300
    for _ in range(20):
        q = rng.standard_normal(16).astype(np.float32)
        q /= np.linalg.norm(q)
        sims = vectors @ q
        order = sorted(range(300), key=lambda i: (-sims[i], i))
        assert [i for i, _ in store.query(q, 10)] == [ids[i] for i in order[:10]]
        allowed = ["d1", "d4"]
        kept = [i for i in order if docs[i] in allowed]
        got = store.query(q, 5, allowed)
        assert [i for i, _ in got] == [ids[i] for i in kept[:5]]
        assert all(abs(s - float(sims[int(i[1:])])) < 1e-6 for i, s in got)
    assert store.query(q, 0) == [] and store.query(q, 5, []) == [] and len(store.query(q, 999)) == 300
    with pytest.raises(ValueError):
        ExactStore(ids[:3], docs, vectors)


def test_store_choice(tmp_path):
    from index.vector_store import store_kind

    s = Settings(data_dir=tmp_path)
    assert store_kind(s, 111) == "exact" and store_kind(s, 10_001) == "chroma"
    assert store_kind(s.model_copy(update={"chroma_mode": "http"}), 111) == "chroma"
    assert store_kind(s.model_copy(update={"vector_store": "chroma"}), 111) == "chroma"
    assert store_kind(s.model_copy(update={"vector_store": "exact"}), 10**6) == "exact"


def test_small_index_is_served_without_importing_chromadb(served):
    """A one-shot search over a small index never imports chromadb (1–1.5 s) nor bm25s/scipy."""
    import subprocess
    import sys

    code = ("import sys; from index import open_retriever; from policy_assistant.settings import Settings; "
            f"r = open_retriever(Settings(data_dir={str(served.data_dir)!r}, embedder='hash')); "
            "r.search('算力券补助多少'); print(type(r.store).__name__, 'chromadb' in sys.modules, "
            "'bm25s' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert out.stdout.split() == ["ExactStore", "False", "False", "False"], out.stderr


# --- catalog cache ------------------------------------------------------------------------------------------------------
def test_catalog_cache_is_the_loaded_catalog_and_follows_the_data(tmp_path):
    import shutil

    from tools.catalog import CORPUS_DIR, PolicyCatalog

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, corpus, ignore=shutil.ignore_patterns("raw", "*.py", "__pycache__"))
    cache = tmp_path / "cache"
    fresh = PolicyCatalog.load(corpus)
    first = PolicyCatalog.load_cached(corpus, cache_dir=cache)
    assert len(list(cache.glob("catalog-*.pickle"))) == 1
    again = PolicyCatalog.load_cached(corpus, cache_dir=cache)
    for cat in (first, again):
        assert [p.model_dump() for p in cat.programs] == [p.model_dump() for p in fresh.programs]
        assert {k: c.text for k, c in cat.clauses.items()} == {k: c.text for k, c in fresh.clauses.items()}
    rules = corpus / "rules" / "xm-measures.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("每家企业每年最高不超过50万元", "每家企业每年最高不超过50万元。"),
                     encoding="utf-8")
    changed = PolicyCatalog.load_cached(corpus, cache_dir=cache)
    assert changed.program("xm-compute-voucher").formula.phrase.endswith("。")
    assert len(list(cache.glob("catalog-*.pickle"))) == 1  # the stale one removed
    next(cache.glob("catalog-*.pickle")).write_bytes(b"not a pickle")
    assert PolicyCatalog.load_cached(corpus, cache_dir=cache).program("xm-compute-voucher")


# --- benchmark machinery ---------------------------------------------------------------------------------------------------
def test_never_seen_questions_are_distinct_and_come_from_the_catalog():
    from evals.loadgen import subjects, take
    from tools.catalog import default_catalog

    catalog = default_catalog()
    qs = take(catalog, 3000)
    assert len(set(qs)) == 3000
    assert take(catalog, 50) == qs[:50]  # deterministic for a seed
    assert take(catalog, 50, seed=2) != qs[:50]
    words = {w for _, _, ws in subjects(catalog) for w in ws}
    assert all(any(w in q for w in words) for q in qs[:200])
    assert not set(take(catalog, 20, exclude=set(qs[:10]))) & set(qs[:10])


def test_lean_client_against_the_hello_world_ceiling():
    """The load client speaks HTTP/1.1 keep-alive correctly (JSON bodies, Content-Length, chunked, errors counted)."""
    from policy_assistant.bench import servers
    from ui.loadtest import cycling, run_level

    hello = servers.start_hello("hello-test", workers=1)
    try:
        result = run_level(hello.url, 4, duration_s=1.0, max_requests=200, next_question=cycling(["你好", "再见"]))
        assert result["errors"] == 0 and 0 < result["requests"] <= 200 and result["p95_ms"] >= result["p50_ms"]
        bad = run_level(hello.url, 1, duration_s=0.5, max_requests=5, path="/nowhere", next_question=cycling(["x"]))
        assert bad["errors"] == bad["requests"] == 5 and bad["error_kinds"] == {"HTTP 404": 5}
    finally:
        hello.stop()
    with pytest.raises(ValueError):
        run_level("http://example.com", 1, duration_s=0.1, max_requests=1, next_question=cycling(["x"]))


def test_headline_table_renders_side_by_side_with_ratios(tmp_path):
    from policy_assistant.bench import table

    def load(rps: float) -> dict:
        return {kind: {str(c): {"rps": rps * c, "p50_ms": 5.0, "p95_ms": 20.0 / c, "errors": 0, "requests": 100,
                                "server_cpu_ms": 1000 / rps / c, "client_cpu_ms": 0.5, "others_share": 0.25}
                       for c in (1, 10)} for kind in ("unseen", "repeated")}

    figures = {"retrieval_p50_ms": 20.0, "retrieval_p95_ms": 40.0, "encode_p50_ms": 15.0, "cached_p50_ms": 3.0,
               "encodes_skipped_share": 0.5, "all_p50_ms": 3.0, "all_p95_ms": 30.0, "first_answer_ms": 50.0,
               "oneshot_retrieval_s": 0.4, "oneshot_plain_s": 0.25, "rss_warm": {"max_rss_mb": 130.0},
               "rss_load": {"max_rss_mb": 140.0}}
    data = {"meta": {"generated": "2026-11-30 12:00:00", "cpus": 2, "workers": 2, "levels": [1, 10],
                     "duration_s": 4.0, "rounds": 3, "load_before": [1.0, 1.0, 1.0], "load_after": [1.2, 1.1, 1.0]},
            "figures": {"new": {**figures, "load": load(100.0)}},
            "ceiling": {"new": {"1": {"rps": 1000.0}, "10": {"rps": 2000.0, "server_cpu_ms": 0.4}}, "today": {}},
            "dense": {"vectors": 111, "queries": 159, "identical_top10": 159, "hnsw_ms": 0.5, "exact_ms": 0.05},
            "today": {"commit": "0b2ad6f", "measured": "2026-11-30", "note": "x",
                      "figures": {**figures, "retrieval_p50_ms": 40.0, "load": load(50.0)},
                      "ceiling": {"1": {"rps": 900.0}, "10": {"rps": 1800.0}}, "dense": {"hnsw_ms": 0.5}}}
    md = table.render(data)
    assert "| 项目 | 今天 | 本次 | 本次/今天 | 目标 |" in md
    assert "50 / 500 | 100 / 1000 | ×2.00 / ×2.00" in md  # never-seen req/s, today and now, and the ratios
    assert "6% / 28% | 10% / 50%" in md  # shares of the hello-world ceiling measured with each
    assert "×0.50" in md and "0b2ad6f" in md
    assert "| 2.00 / 2.00 / — | 1.00 / 1.00 / 0.40 |" in md  # server CPU ms per request at concurrency 10
    assert "| 800 | 1333 |  | ≥ 200 |" in md  # 2 cores × 1000 / (server + client CPU ms)
    assert "| 25% | 25% |  |  |" in md  # CPU taken by other processes meanwhile
    readme = tmp_path / "README.md"
    readme.write_text(f"前\n{table.README_START}\n旧\n{table.README_END}\n后\n", encoding="utf-8")
    assert table.update_readme(readme, md)
    text = readme.read_text(encoding="utf-8")
    assert "旧" not in text and text.startswith("前\n") and text.endswith("后\n") and md in text
    assert not table.update_readme(tmp_path / "x.md", md) if (tmp_path / "x.md").write_text("无标记") else True


def test_cpu_meter_per_request_and_workers_support(tmp_path):
    from policy_assistant.bench.headline import CpuMeter, serves_workers

    got = CpuMeter.per_request((1.0, 2.0, 10.0, 20.0), (1.5, 2.1, 10.8, 21.0), 100)
    assert got == {"server_cpu_ms": 5.0, "client_cpu_ms": 1.0, "others_share": 0.25}
    assert CpuMeter.per_request((0, 0, 0, 0), (1, 1, 1, 1), 0)["server_cpu_ms"] is None
    assert CpuMeter([]).read()[2] > 0  # the machine's busy time, from /proc/stat
    assert serves_workers(REPO_ROOT)
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "cli.py").write_text('serve.add_argument("--host")\n', encoding="utf-8")
    assert not serves_workers(tmp_path)


def test_baseline_record_is_well_formed():
    from policy_assistant.bench.headline import BASELINE_FILE

    data = json.loads(BASELINE_FILE.read_text(encoding="utf-8"))
    assert data["commit"] and data["figures"]["load"]["unseen"] and data["ceiling"]


# --- serving --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("access_log", [False, True])
def test_safe_logging_keeps_uvicorns_access_log_choice(access_log):
    """A `serve --workers N` worker installs the safe logging after uvicorn configured its loggers: the access log
    stays as `--access-log` chose (off by default: a log line per request is the server's CPU, not the answer's)."""
    import logging

    import uvicorn

    from ui import logsafe

    access = logging.getLogger("uvicorn.access")
    saved = (access.handlers[:], access.propagate, logging.getLogger().handlers[:], logging.getLogger().level)
    try:
        uvicorn.Config(app=lambda scope, receive, send: None, access_log=access_log, log_config=None)
        logsafe.install()
        assert access.hasHandlers() is access_log
    finally:
        access.handlers[:], access.propagate = saved[0], saved[1]
        logging.getLogger().handlers[:] = saved[2]
        logging.getLogger().setLevel(saved[3])


def test_each_command_is_parsed_by_the_module_that_registers_it():
    """`policy-assistant CMD` imports only CMD's module to parse its arguments: the table says which module that is."""
    import argparse
    import importlib

    from policy_assistant.cli import COMMAND_MODULES, COMMAND_OWNERS, build_parser

    owners = {}
    for name in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        owners.update({command: name for command in sub.choices})
    assert COMMAND_OWNERS == owners
    assert set(build_parser()._subparsers._group_actions[0].choices) == set(owners)  # no command or --help: all
    assert set(build_parser("ask")._subparsers._group_actions[0].choices) == {"ask", "chat"}
    assert build_parser("ask").parse_args(["ask", "厦门算力券"]).question == "厦门算力券"
