"""Golden tests as data: every case of corpus/tests/<doc>.yaml (and of the fixture notices) through the real
calculator, one pytest case each, so `make test` fails on any rule whose figures drift from its clause."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.catalog import CORPUS_DIR, PolicyCatalog, default_catalog
from tools.goldens import GoldenError, golden_files, load_golden, run_case, run_goldens

FIXTURES = Path(__file__).parent / "fixtures"
EXTRA = [FIXTURES / "sixth_doc", FIXTURES / "revised_doc"]


def _cases(dirs):
    out = []
    for path in golden_files(dirs):
        golden = load_golden(path)
        out += [pytest.param(path, golden, case, id=f"{golden.doc_id}:{case.id}") for case in golden.cases]
    return out


@pytest.fixture(scope="module")
def fixture_catalog():
    return PolicyCatalog.load(None, EXTRA)


@pytest.mark.parametrize("path, golden, case", _cases([CORPUS_DIR]))
def test_corpus_golden_case(path, golden, case):
    result = run_case(case, golden, default_catalog(), str(path))
    assert result.ok, f"{path.name} {case.id}: " + "；".join(result.problems)


@pytest.mark.parametrize("path, golden, case", _cases(EXTRA))
def test_fixture_golden_case(path, golden, case, fixture_catalog):
    result = run_case(case, golden, fixture_catalog, str(path))
    assert result.ok, f"{path.name} {case.id}: " + "；".join(result.problems)


def test_every_document_with_amounts_has_golden_cases():
    catalog = default_catalog()
    tested = {load_golden(p).doc_id for p in golden_files([CORPUS_DIR])}
    assert tested == set(catalog.documents)
    covered = {c.program for p in golden_files([CORPUS_DIR]) for c in load_golden(p).cases}
    assert covered == {p.id for p in catalog.programs}, "every program has at least one golden case"


def test_a_wrong_expectation_fails(tmp_path):
    """The runner really compares: a case expecting the wrong amount or wrong clause words is reported."""
    golden = load_golden(CORPUS_DIR / "tests" / "xm-measures.yaml")
    case = next(c for c in golden.cases if c.id == "xm-compute-voucher/threshold-300000")
    wrong = case.model_copy(update={"amount_yuan": 150001, "words": ["每家企业每年最高不超过60万元"]})
    result = run_case(wrong, golden, default_catalog())
    assert not result.ok and len(result.problems) == 2
    assert any("150001" in p for p in result.problems) and any("60万元" in p for p in result.problems)


def test_a_malformed_or_duplicated_file_is_refused(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "xm-measures.yaml").write_text(
        "doc_id: xm-measures\nas_of: 2025-06-01\ncases:\n  - {id: a, program: xm-maas, eligible: true, amount_yuan: 1, "
        "typo_key: 1}\n", encoding="utf-8")
    with pytest.raises(GoldenError, match="typo_key"):
        run_goldens(default_catalog(), [tmp_path])
    (tmp_path / "tests" / "xm-measures.yaml").write_text(
        "doc_id: xm-measures\nas_of: 2025-06-01\ncases:\n"
        "  - {id: a, program: xm-maas, facts: {maas_revenue_yuan: 20}, eligible: true, amount_yuan: 1}\n"
        "  - {id: a, program: xm-maas, facts: {maas_revenue_yuan: 20}, eligible: true, amount_yuan: 1}\n", encoding="utf-8")
    with pytest.raises(GoldenError, match="重复"):
        run_goldens(default_catalog(), [tmp_path])


def test_rules_test_command(capsys):
    from policy_assistant.cli import main

    assert main(["rules", "test", "--doc", "siming"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"siming：\d+ 例，全部通过", out) and "全部通过。" in out
