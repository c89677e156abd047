"""Document validity on both sides of every date: effective_from−1, from, to, to+1, and the application window."""
from __future__ import annotations

import datetime as dt

import pytest

from corpus import load_documents
from corpus.dates import check_date_phrase
from tools.catalog import PolicyCatalog, default_catalog
from tools.errors import InvalidInputError
from tools.rules import normalise_phrase
from tools.validity import document_overview, validity_for

DAY = dt.timedelta(days=1)
DOCS = [d.id for d in load_documents()]


def _doc(doc_id):
    return next(d for d in load_documents() if d.id == doc_id)


@pytest.mark.parametrize("doc_id", [d.id for d in load_documents() if d.validity_stated])
def test_status_on_both_sides_of_effective_dates(doc_id):
    doc = _doc(doc_id)
    assert validity_for(doc_id, doc.effective_from - DAY).status == "not_yet"
    assert validity_for(doc_id, doc.effective_from).status == "in_force"
    assert validity_for(doc_id, doc.effective_to).status == "in_force"
    assert validity_for(doc_id, doc.effective_to + DAY).status == "expired"


@pytest.mark.parametrize("doc_id", [d.id for d in load_documents() if d.deadline])
def test_window_on_both_sides_of_open_and_close(doc_id):
    doc = _doc(doc_id)
    if doc.window_opens:
        assert validity_for(doc_id, doc.window_opens - DAY).window_open is False
        assert validity_for(doc_id, doc.window_opens).window_open is True
    assert validity_for(doc_id, doc.deadline).window_open is True
    after = validity_for(doc_id, doc.deadline + DAY)
    assert after.window_open is False
    assert after.window_closes == doc.deadline
    assert "申报已截止" in after.message


@pytest.mark.parametrize("doc_id", [d.id for d in load_documents() if not d.deadline])
def test_documents_without_window_report_unknown(doc_id):
    doc = _doc(doc_id)
    assert validity_for(doc_id, doc.effective_from).window_open is None


@pytest.mark.parametrize("doc_id, deadline", [("quanzhou", "2024年6月16日"), ("anhui", "2024年7月5日17:00"),
                                              ("xm-guide", "2024年7月15日")])
@pytest.mark.parametrize("as_of", [dt.date(2024, 6, 14), dt.date(2026, 11, 30)])
def test_calls_for_applications_state_no_validity(doc_id, deadline, as_of):
    """The 泉州 and 安徽 notices and the Xiamen guide are calls for applications: no validity range, the deadline."""
    v = validity_for(doc_id, as_of)
    assert v.status == "unstated" and v.effective_from is None and v.effective_to is None
    assert v.message.startswith(f"《{_doc(doc_id).title}》通知未规定有效期。")
    assert deadline in v.message
    assert "有效期为" not in v.message and "有效期20" not in v.message
    for invented in ("2024年6月1日", "2024年6月15日至", "6月15日至2024年7月5日"):
        assert invented not in v.message


def test_document_dates_are_written_in_their_clauses():
    """Each stated date (publication, in force, window, deadline, activity period) is written in its quoted phrase,
    and the phrase is in the cleaned clause it cites."""
    catalog = default_catalog()
    for doc in load_documents():
        assert catalog.date_problems(doc.id) == [], doc.id
        for _, stated in doc.dates.stated():
            clause = catalog.clause(stated.clause_id)
            assert stated.clause_id.startswith(doc.id + ":")
            assert normalise_phrase(stated.phrase) in normalise_phrase(clause.text)
    assert _doc("quanzhou").dates.published is None and _doc("anhui").dates.published is None
    assert _doc("anhui").deadline_time == "17:00"


@pytest.mark.parametrize("doc_id, role, wrong", [
    ("xm-measures", "in_force_to", dt.date(2025, 12, 30)),  # the phrase writes 2025年12月31日
    ("quanzhou", "deadline", dt.date(2024, 6, 15)),
    ("anhui", "deadline", dt.date(2024, 7, 6)),
    ("xm-guide", "window_opens", dt.date(2024, 6, 1)),  # “即日起” read as the issue date 2024年6月13日
])
def test_a_date_not_written_in_its_phrase_is_rejected(doc_id, role, wrong):
    catalog = default_catalog()
    doc = catalog.document(doc_id)
    stated = getattr(doc.dates, role).model_copy(update={"date": wrong})
    bad = doc.model_copy(update={"dates": doc.dates.model_copy(update={role: stated})})
    twin = PolicyCatalog(documents={**catalog.documents, doc_id: bad}, clauses=catalog.clauses, rules=catalog.rules,
                         lexicon=catalog.lexicon)
    assert twin.date_problems(doc_id)


@pytest.mark.parametrize("day, phrase, reading, time, ok", [
    (dt.date(2023, 12, 31), "起止时间为2023年1月1日至12月31日", "", None, True),  # the year carries over
    (dt.date(2024, 7, 5), "于7月5日下午5点前", "", "17:00", False),  # no year, no reading
    (dt.date(2024, 7, 5), "于7月5日下午5点前", "按2024年第一批理解为2024年", "17:00", True),
    (dt.date(2024, 7, 5), "于7月5日下午5点前", "按2024年理解", "16:00", False),
    (dt.date(2024, 6, 1), "于2024年6月16日前正式行文推荐", "", None, False),
])
def test_check_date_phrase(day, phrase, reading, time, ok):
    assert (check_date_phrase(day, phrase, reading, time) is None) is ok


def test_measures_message_matches_the_brief():
    v = validity_for("xm-measures", dt.date(2026, 11, 22))
    assert v.message == "《厦门市促进人工智能产业发展若干措施》有效期2023年10月10日至2025年12月31日，截至2026年11月22日已失效。"


@pytest.mark.parametrize("as_of, fragment", [
    (dt.date(2025, 12, 31), "仍在有效期内"),
    (dt.date(2026, 1, 1), "已失效"),
])
def test_measures_last_day_and_day_after(as_of, fragment):
    assert fragment in validity_for("xm-measures", as_of).message


def test_siming_runs_to_end_of_2026():
    assert validity_for("siming", dt.date(2024, 12, 31)).status == "not_yet"
    assert "尚未生效" in validity_for("siming", dt.date(2024, 12, 31)).message
    assert validity_for("siming", dt.date(2026, 12, 31)).status == "in_force"
    assert validity_for("siming", dt.date(2027, 1, 1)).status == "expired"


def test_anhui_window_mentions_close_time_and_period():
    v = validity_for("anhui", dt.date(2024, 7, 1))
    assert v.window_open is True
    assert "2024年7月5日17:00" in v.message
    assert "2023年1月1日" in v.message


def test_unknown_document():
    with pytest.raises(InvalidInputError):
        validity_for("nowhere", dt.date(2025, 1, 1))


def test_document_overview_rows():
    rows = document_overview(dt.date(2026, 11, 22))
    assert [r["id"] for r in rows] == DOCS
    by_id = {r["id"]: r for r in rows}
    assert by_id["xm-measures"]["status"] == "expired"
    assert by_id["siming"]["status"] == "in_force" and by_id["siming"]["status_zh"] == "有效"
    assert by_id["xm-guide"]["window_open"] is False
    assert "sm-compute" in by_id["siming"]["program_ids"]
    assert by_id["xm-measures"]["doc_number"] == "厦府办规〔2023〕10号"
    assert sum(len(r["program_ids"]) for r in rows) == 38
