"""ServedIndex: follows CURRENT without a restart; a damaged new build never replaces a working one."""
from __future__ import annotations

import pytest

from index.build import IndexCorrupt
from index.served import ServedIndex
from policy_assistant.settings import Settings


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class FakeRetriever:
    def __init__(self, build_id):
        self.build_id = build_id
        self.dense_degraded = ""

    def search(self, query, **kwargs):
        return f"{self.build_id}:{query}"


def served(tmp_path, builds: dict[str, object]):
    """An index dir whose CURRENT names a build; opening it returns builds[name] (or raises it)."""
    (tmp_path / "index").mkdir(exist_ok=True)
    clock = Clock()

    def opener():
        name = (tmp_path / "index" / "CURRENT").read_text()
        result = builds[name]
        if isinstance(result, Exception):
            raise result
        return result

    return ServedIndex(Settings(data_dir=tmp_path), opener=opener, check_interval_s=2.0, clock=clock), clock


def point(tmp_path, name):
    (tmp_path / "index" / "CURRENT").write_text(name)


def test_new_build_is_served_after_the_check_interval(tmp_path):
    index, clock = served(tmp_path, {"a": FakeRetriever("a"), "b": FakeRetriever("b")})
    point(tmp_path, "a")
    assert index.search("算力") == "a:算力"
    point(tmp_path, "b")
    clock.t = 1.9
    assert index.search("算力") == "a:算力"  # within the interval CURRENT is not re-read
    clock.t = 2.1
    assert index.search("算力") == "b:算力" and index.status() == {"status": "ok", "build_id": "b"}


def test_damaged_new_build_keeps_the_old_one_and_says_so(tmp_path):
    index, clock = served(tmp_path, {"a": FakeRetriever("a"), "b": IndexCorrupt(["chunks.jsonl 校验和不符"])})
    point(tmp_path, "a")
    index.search("x")
    point(tmp_path, "b")
    clock.t = 3
    assert index.search("算力") == "a:算力"
    status = index.status()
    assert status["status"] == "degraded" and "chunks.jsonl" in status["message"] and status["build_id"] == "a"


def test_nothing_servable_is_unavailable_until_a_good_build_appears(tmp_path):
    index, clock = served(tmp_path, {"a": IndexCorrupt(["manifest.json 无法解析"]), "b": FakeRetriever("b")})
    point(tmp_path, "a")
    with pytest.raises(IndexCorrupt):
        index.search("x")
    status = index.status()
    assert status["status"] == "unavailable" and "index build" in status["message"]
    point(tmp_path, "b")
    clock.t = 2.5
    assert index.search("算力") == "b:算力" and index.status()["status"] == "ok"


def test_degraded_vector_store_is_reported(tmp_path):
    retriever = FakeRetriever("a")
    retriever.dense_degraded = "向量库读取失败，已改用精确向量检索"
    index, _ = served(tmp_path, {"a": retriever})
    point(tmp_path, "a")
    assert index.status()["status"] == "degraded"
