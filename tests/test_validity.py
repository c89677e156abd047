"""Document validity on both sides of every date: effective_from−1, from, to, to+1, and the application window."""
from __future__ import annotations

import datetime as dt

import pytest

from corpus import load_documents
from tools.errors import InvalidInputError
from tools.validity import document_overview, validity_for

DAY = dt.timedelta(days=1)
DOCS = [d.id for d in load_documents()]


def _doc(doc_id):
    return next(d for d in load_documents() if d.id == doc_id)


@pytest.mark.parametrize("doc_id", DOCS)
def test_status_on_both_sides_of_effective_dates(doc_id):
    doc = _doc(doc_id)
    assert validity_for(doc_id, doc.effective_from - DAY).status == "not_yet"
    assert validity_for(doc_id, doc.effective_from).status == "in_force"
    assert validity_for(doc_id, doc.effective_to).status == "in_force"
    assert validity_for(doc_id, doc.effective_to + DAY).status == "expired"


@pytest.mark.parametrize("doc_id", [d.id for d in load_documents() if d.application])
def test_window_on_both_sides_of_open_and_close(doc_id):
    app = _doc(doc_id).application
    assert validity_for(doc_id, app.opens - DAY).window_open is False
    assert validity_for(doc_id, app.opens).window_open is True
    assert validity_for(doc_id, app.closes).window_open is True
    after = validity_for(doc_id, app.closes + DAY)
    assert after.window_open is False
    assert after.window_closes == app.closes
    assert "申报已截止" in after.message


@pytest.mark.parametrize("doc_id", [d.id for d in load_documents() if not d.application])
def test_documents_without_window_report_unknown(doc_id):
    doc = _doc(doc_id)
    assert validity_for(doc_id, doc.effective_from).window_open is None


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
