"""Adding a policy notice with no Python change: a synthetic notice in test fixtures (never in the corpus) goes through
`docs add` → review → `docs check` → `index build` (incremental) → the offline agent and the LLM agent (a scripted
fake chat model, the only fake) answer an amount question with a citation. Also: drafts are never used before
review, a failed add leaves the folder as it was, and a revision found in the text is registered.

Everything is written to a temporary folder; the repository's corpus is only read.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from policy_assistant.cli import main
from policy_assistant.settings import Settings
from tools.catalog import PolicyCatalog

FIXTURE = Path(__file__).parent / "fixtures" / "new_notice"
NOTICE = FIXTURE / "lanhe.txt"
AS_OF = dt.date(2026, 6, 1)
QUESTION = "澜河市企业今年租算力花了100万，能补多少？"


def add(target: Path, *more: str) -> int:
    return main(["docs", "add", str(NOTICE), "--id", "lh-measures", "--region", "澜河市", "--region-path", "云岭省,澜河市",
                 "--corpus-dir", str(target), "--yes", *more])


def apply_review(target: Path) -> int:
    """The reviewer's edits (tests/fixtures/new_notice/review.yaml), applied as a person would; returns lines changed."""
    changed = 0
    for edit in yaml.safe_load((FIXTURE / "review.yaml").read_text(encoding="utf-8"))["edits"]:
        path = target / edit["file"]
        text = path.read_text(encoding="utf-8")
        assert text.count(edit["find"]) == 1, edit
        path.write_text(text.replace(edit["find"], edit["replace"]), encoding="utf-8")
        changed += 1
    (target / "tests").mkdir(exist_ok=True)
    (target / "tests" / "lh-measures.yaml").write_text((FIXTURE / "tests" / "lh-measures.yaml").read_text(encoding="utf-8"),
                                                     encoding="utf-8")
    return changed


def yaml_lines(target: Path) -> int:
    return sum(len([ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.lstrip().startswith("#")])
               for p in target.rglob("*.yaml"))


class ScriptedChatModel(BaseChatModel):
    """Replays queued messages (tool calls, or a function of the conversation for the final answer)."""

    script: list[Any]
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.seen.append(list(messages))
        step = self.script.pop(0)
        return ChatResult(generations=[ChatGeneration(message=step(messages) if callable(step) else step)])

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"


def _call(name: str, **args) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": f"call_{name}"}])


def _tool(messages: list[BaseMessage], name: str) -> dict:
    return next(json.loads(m.content) for m in reversed(messages) if isinstance(m, ToolMessage) and m.name == name)


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    """The notice added, reviewed and indexed in a temporary folder; returns (folder, settings, outputs)."""
    import shutil

    from index.testing import PERSISTENT_CACHE

    target = tmp_path_factory.mktemp("notices")
    data = tmp_path_factory.mktemp("data")
    out: dict[str, Any] = {}
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        out["add_rc"] = add(target)
    out["add"] = buf.getvalue()
    out["draft_catalog"] = PolicyCatalog.load(None, [target])
    out["draft_yaml_lines"] = yaml_lines(target)
    out["review_edits"] = apply_review(target)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        out["review_rc"] = main(["docs", "review", "lh-measures", "--extra", str(target)])
        out["check_rc"] = main(["docs", "check", "--extra", str(target)])
    out["check"] = buf.getvalue()
    settings = Settings(data_dir=data, extra_corpus_dirs=[target])
    if PERSISTENT_CACHE.exists():  # vectors of the corpus from earlier runs: only the new notice is embedded
        (settings.index_dir / "cache").mkdir(parents=True, exist_ok=True)
        for f in PERSISTENT_CACHE.glob("vectors-*.sqlite"):
            shutil.copy2(f, settings.index_dir / "cache" / f.name)
    from index.build import build_index

    out["base_build"] = build_index(Settings(data_dir=data), progress=False)
    out["build"] = build_index(settings, progress=False)
    return target, settings, out


def test_docs_add_records_repairs_parse_dates_and_drafts(added):
    target, _, out = added
    assert out["add_rc"] == 0
    text = out["add"]
    for expected in ("删除网页评论区残留", "合并被分页截断的句子", "条目序号半角括号统一为全角", "lh-measures:art1",
                     "第一条 支持算力租赁", "施行日期：2026年1月1日 ← 原文“自2026年1月1日起施行”", "status: draft"):
        assert expected in text, expected
    doc = out["draft_catalog"].document("lh-measures")
    assert doc.effective_from == dt.date(2026, 1, 1) and doc.effective_to == dt.date(2027, 12, 31)
    assert doc.publish_date == dt.date(2025, 12, 20) and doc.deadline is None  # the text states no deadline
    assert [r.kind for r in doc.repairs] == ["debris", "punctuation", "page_break", "spacing"]
    clean = (target / "clean" / "lh-measures.txt").read_text(encoding="utf-8")
    assert "暂无评论" not in clean and "每家企业最高不超过60万元" in clean and "达20万元(含)以上" in clean
    drafts = {p.id: p for p in out["draft_catalog"].rules.drafts}
    assert set(drafts) == {"lh-measures-art1", "lh-measures-art2", "lh-measures-art3"}
    rent = drafts["lh-measures-art1"]
    assert rent.formula.kind == "ratio_cap" and rent.formula.rate.text == "40%" and rent.formula.cap_yuan == 300_000
    assert rent.conditions[0].op == "ge" and rent.conditions[0].value == 200_000
    assert drafts["lh-measures-art2"].conditions[0].op == "gt"  # 超过 excludes the bound
    assert drafts["lh-measures-art3"].formula.amounts == {"city": 800_000, "province": 1_500_000}


def test_drafts_are_validated_but_never_answer(added):
    _, _, out = added
    from agent.offline import OfflineAssistant

    catalog = out["draft_catalog"]
    assert not [p for p in catalog.programs if p.doc_id == "lh-measures"]
    answer = OfflineAssistant(Settings(), catalog).ask("澜河企业年度租赁智能算力费用100万元，最高能补多少？", as_of=AS_OF)
    assert not [c for c in answer.calculations if c.program_id.startswith("lh-")]
    assert "30万元" not in answer.answer


def test_review_and_check(added):
    _, _, out = added
    assert out["review_rc"] == 0 and out["check_rc"] == 0
    assert "检查通过" in out["check"] and "lh-measures 16 例" in out["check"] and "全部通过" in out["check"]
    assert "仍是草稿" not in out["check"]


def test_index_build_picks_up_only_the_new_notice(added):
    _, _, out = added
    base, build = out["base_build"], out["build"]
    assert build.built and build.changed_docs == ["lh-measures"]
    assert build.chunks == base.chunks + build.embedded and build.reused == base.chunks
    assert 0 < build.embedded <= 10


def _cited_amount(answer, clause_id: str, amount_text: str) -> None:
    assert answer.status == "answered", answer.answer
    assert clause_id in [c.id for c in answer.citations]
    marker = f"[{[c.id for c in answer.citations].index(clause_id) + 1}]"
    assert amount_text in answer.answer and marker in answer.answer


def test_offline_agent_answers_with_a_citation(added):
    _, settings, _ = added
    from policy_assistant.services import Services

    answer = Services(settings).ask(QUESTION, as_of=AS_OF)
    assert [(c.program_id, c.amount_yuan) for c in answer.calculations] == [("lh-measures-art1", 300_000)]
    _cited_amount(answer, "lh-measures:art1", "30万元")
    assert "2027年12月31日" in answer.answer  # the stated validity, from the text


def test_llm_agent_answers_with_a_citation(added):
    _, settings, _ = added
    from agent.execute import PolicyTools
    from agent.llm import LLMAssistant
    from agent.offline import OfflineAssistant
    from policy_assistant.services import Services

    services = Services(settings)

    def final(messages):
        calc = _tool(messages, "calculate_award")
        ref = next(h["ref"] for h in _tool(messages, "search_policies")["results"] if h["id"] == "lh-measures:art1")
        return AIMessage(f"根据澜河市措施第一条，租赁智能算力费用100万元的补助最高可获得"
                         f"{calc['amount_yuan'] // 10000}万元[{ref}]，实际金额以审核为准。")

    model = ScriptedChatModel(script=[
        _call("search_policies", query="澜河市 租赁智能算力 补助 上限", region="澜河市"),
        _call("calculate_award", program_id="lh-measures-art1", facts={"lh_measures_art1_yuan": "100万"}),
        final])
    fallback = OfflineAssistant(settings, services.catalog, retriever_factory=lambda: services.retriever)
    assistant = LLMAssistant(model, PolicyTools(services.catalog, lambda: services.retriever), fallback=fallback,
                             injection_check=lambda q: False)
    answer = assistant.ask(QUESTION, as_of=AS_OF)
    assert not model.script, "the model's script ran to its end (no fallback)"
    assert [(c.program_id, c.amount_yuan) for c in answer.calculations] == [("lh-measures-art1", 300_000)]
    _cited_amount(answer, "lh-measures:art1", "30万元")


def test_no_python_was_needed(added):
    """The notice is text + YAML: what was written, and how much of it a person changed, in lines."""
    target, _, out = added
    assert {p.suffix for p in target.rglob("*") if p.is_file()} == {".txt", ".yaml"}
    assert out["review_edits"] == 5 and out["draft_yaml_lines"] > 30


def test_a_failed_add_leaves_the_folder_as_it_was(tmp_path, capsys):
    assert add(tmp_path) == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert add(tmp_path) == 2  # the same id again
    assert "已存在" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_bytes("不是UTF-8".encode("gbk"))
    assert main(["docs", "add", str(bad), "--id", "bad-doc", "--region", "澜河市", "--corpus-dir", str(tmp_path), "--yes"]) == 2
    assert "UTF-8" in capsys.readouterr().err
    assert main(["docs", "add", str(NOTICE), "--id", "Bad_ID", "--region", "澜河市", "--corpus-dir", str(tmp_path), "--yes"]) == 2
    assert main(["docs", "add", str(NOTICE), "--id", "lh-two", "--corpus-dir", str(tmp_path), "--yes"]) == 2
    assert "--region" in capsys.readouterr().err
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p != bad}
    assert after == before


def test_a_broken_rule_is_rolled_back(tmp_path, monkeypatch, capsys):
    """An add whose result does not validate writes nothing (here: a drafted phrase tampered to miss the text)."""
    import corpus.draft as draft

    real = draft.rules_yaml
    monkeypatch.setattr(draft, "rules_yaml", lambda *a: real(*a).replace("达20万元(含)以上的", "达25万元以上的"))
    assert add(tmp_path) == 2
    assert "已撤销" in capsys.readouterr().err
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_notice_for_an_existing_region_and_a_revision(tmp_path):
    """A notice of an existing region attaches to it; “原《…》自…起废止” naming a corpus document registers the
    revision, and the catalog then picks the version by the as-of date."""
    sixth = Path(__file__).parent / "fixtures" / "sixth_doc"
    revised = (Path(__file__).parent / "fixtures" / "revised_doc" / "clean" / "yx-measures-2027.txt").read_text(encoding="utf-8")
    source = tmp_path / "revision.txt"
    source.write_text(revised, encoding="utf-8")
    target = tmp_path / "notices"
    rc = main(["docs", "add", str(source), "--id", "yx-rev", "--region", "云溪市", "--corpus-dir", str(target),
               "--extra", str(sixth), "--yes"])
    assert rc == 0
    regions = (target / "lexicon" / "regions.yaml").read_text(encoding="utf-8")
    assert "attach:" in regions and "key: yunxi" in regions
    catalog = PolicyCatalog.load(None, [sixth, target])
    doc = catalog.document("yx-rev")
    assert doc.region_path == ["云岭省", "云溪市"] and doc.doc_number == ""
    assert [(r.doc_id, r.from_) for r in doc.supersedes] == [("yx-measures", dt.date(2027, 1, 1))]
    main(["docs", "review", "yx-rev", "--extra", str(sixth), "--extra", str(target)])
    catalog = PolicyCatalog.load(None, [sixth, target])
    before = [p.id for p in catalog.at(dt.date(2026, 12, 31)).programs if p.doc_id.startswith("yx")]
    after = [p.id for p in catalog.at(dt.date(2027, 1, 1)).programs if p.doc_id.startswith("yx")]
    assert "yx-compute-rent" in before and not [p for p in before if p.startswith("yx-rev")]
    assert "yx-compute-rent" not in after and "yx-rev-art1" in after
    assert re.search("已被.*自2027年1月1日起修订替代", catalog_validity(catalog, "yx-measures", dt.date(2027, 1, 1)))


def catalog_validity(catalog, doc_id: str, as_of: dt.date) -> str:
    from tools.validity import validity_for

    return validity_for(doc_id, as_of, catalog).message


def test_docs_check_passes_on_the_corpus_and_fails_on_a_wrong_golden_case(tmp_path, capsys):
    import shutil

    assert main(["docs", "check"]) == 0
    out = capsys.readouterr().out
    assert "检查通过" in out and "黄金用例" in out and "未写明有效期的文件" in out
    folder = tmp_path / "sixth"
    shutil.copytree(Path(__file__).parent / "fixtures" / "sixth_doc", folder)
    golden = folder / "tests" / "yx-measures.yaml"
    golden.write_text(golden.read_text(encoding="utf-8").replace("amount_yuan: 80000, words: [达20万元(含)以上], note: 20万",
                                                                 "amount_yuan: 80001, words: [达20万元(含)以上], note: 20万"),
                      encoding="utf-8")
    assert main(["docs", "check", "--extra", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "黄金用例未通过 yx-measures rent/200000" in out and "检查未通过" in out
    (folder / "clean" / "yx-measures.txt").write_text("被改坏的文本\n", encoding="utf-8")
    assert main(["docs", "check", "--extra", str(folder)]) == 1
    assert "语料加载失败" in capsys.readouterr().out


def test_adding_into_the_main_corpus_folder_edits_its_files_in_place(tmp_path, monkeypatch, capsys):
    """The default target is the settings' corpus folder itself (here a copy): the region's docs list, the facts
    vocabulary and documents.yaml are extended in place, and the five documents stay as they were."""
    import shutil

    from tools.catalog import CORPUS_DIR

    copy = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    monkeypatch.setenv("POLICY_CORPUS_DIR", str(copy))
    assert main(["docs", "add", str(NOTICE), "--id", "xm-lanhe-test", "--region", "厦门市", "--yes"]) == 0
    assert "登记到已有地区 厦门市（xiamen）" in capsys.readouterr().out
    assert "docs: [xm-measures, xm-guide, xm-lanhe-test]" in (copy / "lexicon" / "regions.yaml").read_text(encoding="utf-8")
    assert main(["docs", "add", str(NOTICE), "--id", "lh-measures", "--region", "澜河市", "--region-path", "云岭省,澜河市",
                 "--yes"]) == 0
    regions = (copy / "lexicon" / "regions.yaml").read_text(encoding="utf-8")
    assert regions.index("key: lh") < regions.index("own_policy_words:")
    catalog = PolicyCatalog.load(copy)
    assert list(catalog.documents)[:5] == ["xm-measures", "xm-guide", "siming", "quanzhou", "anhui"]
    assert catalog.document("xm-lanhe-test").region_path == ["福建省", "厦门市"]
    assert catalog.region_of_doc["lh-measures"] == "lh" and len(catalog.programs) == 38  # drafts wait for review
    facts = (copy / "rules" / "facts.yaml").read_text(encoding="utf-8")
    # the second notice speaks of the same spend: it reuses the fact the first one added instead of a duplicate
    assert facts.count("name: xm_lanhe_test_art1_yuan") == 1 and "lh_measures_art1_yuan" not in facts
    assert next(p for p in catalog.rules.drafts if p.id == "lh-measures-art1").facts == ["xm_lanhe_test_art1_yuan"]
