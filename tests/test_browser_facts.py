"""“我读到的信息” in the browser (issue 15): fact chips in the web chat, the widget and the hotline view; editing one
recomputes the amount (calculator) and the conversation keeps the corrected fact. Screenshots under test-artifacts/."""
from __future__ import annotations

import httpx
import pytest

from test_browser import TIMEOUT_MS, _open_tab, browser, embed_port, page, phone, server  # noqa: F401
from test_browser_ui import BOX, CHAT, _ask, _last_answer

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SIMING = "思明区，去年平台上架的算力买了80万，补多少"


def test_web_chat_fact_chip_corrects_the_amount(page, server, artifacts_dir):
    page.goto(server.url + "/")
    _ask(page, SIMING)
    bot = _last_answer(page)
    block = bot.locator(".pa-facts")
    text = bot.inner_text()
    assert text.index("我读到的信息") < text.index("8万元")  # the facts come first
    chip = block.locator(".pa-f--compute_purchase_yuan")
    assert "年度购买算力服务总额" in chip.inner_text() and "80万元" in chip.inner_text() and "2025年" in chip.inner_text()
    assert "去年平台上架的算力买了80万" in chip.inner_text()  # the words of the question
    page.screenshot(path=str(artifacts_dir / "ui15-chat-facts.png"), full_page=True)

    chip.click()
    editor = page.locator(".pa-fact-editor")
    assert editor.locator("input").input_value() == "80万元"
    editor.locator("input").fill("120万")
    page.screenshot(path=str(artifacts_dir / "ui15-chat-chip-editing.png"), full_page=True)
    editor.locator(".pa-fe-apply").click()
    page.locator(f"{CHAT} .message-row.user-row", has_text="更正：年度购买算力服务总额改为120万元").wait_for()
    bot = _last_answer(page)
    page.wait_for_function("() => document.querySelectorAll('#pa-chat .message-row.bot-row').length === 2")
    bot = page.locator(f"{CHAT} .message-row.bot-row").last
    bot.locator(".pa-facts").wait_for()
    assert "12万元" in bot.inner_text()  # 120万 × 10% = 12万, under the 25万 cap: recomputed, no new question
    fixed = bot.locator(".pa-f--compute_purchase_yuan")
    assert "120万元" in fixed.inner_text() and "已更正" in fixed.inner_text()
    page.screenshot(path=str(artifacts_dir / "ui15-chat-recomputed.png"), full_page=True)

    _ask(page, "那最高能补多少？")  # the conversation keeps the corrected fact
    follow = _last_answer(page)
    assert "120万元" in follow.locator(".pa-f--compute_purchase_yuan").inner_text()
    assert "上文" in follow.locator(".pa-f--compute_purchase_yuan").inner_text()

    # older answers' chips are read-only; a bool chip is corrected with 是/否, by keyboard
    page.locator(f"{CHAT} .message-row.bot-row").first.locator(".pa-fact").first.click()
    assert page.locator(".pa-fact-editor").count() == 0
    listed = follow.locator(".pa-f--compute_listed_on_platform")
    listed.focus()
    page.keyboard.press("Enter")
    page.locator(".pa-fact-editor .pa-fe-no").click()
    page.wait_for_function("() => document.querySelectorAll('#pa-chat .message-row.bot-row').length === 4")
    page.locator(f"{CHAT} .message-row.bot-row").last.get_by_text("不符合").first.wait_for()


def test_web_chat_bad_correction_is_explained(page, server, artifacts_dir):
    page.goto(server.url + "/")
    _ask(page, SIMING)
    bot = _last_answer(page)
    bot.locator(".pa-f--compute_purchase_yuan").click()
    page.locator(".pa-fact-editor input").fill("好多好多")
    page.locator(".pa-fact-editor input").press("Enter")
    warn = page.locator(f"{CHAT} .message-row.bot-row").last.locator(".pa-warn")
    warn.wait_for()
    assert "好多好多" in warn.inner_text() and "年度购买算力服务总额" in warn.inner_text()
    page.screenshot(path=str(artifacts_dir / "ui15-chat-bad-correction.png"), full_page=True)


def test_widget_fact_chip_corrects_the_amount(phone, server, artifacts_dir):
    phone.goto(server.url + "/widget-demo")
    widget = phone.locator("#policy-assistant-widget")
    widget.locator(".bubble").click()
    panel = widget.locator(".panel.open")
    panel.locator("textarea").fill(SIMING)
    panel.locator("textarea").press("Enter")
    answer = panel.locator(".m.a .b[data-status]").last
    answer.wait_for()
    assert answer.inner_text().index("我读到的信息") < answer.inner_text().index("8万元")
    chip = answer.locator(".facts .fact", has_text="年度购买算力服务总额")
    assert "80万元" in chip.inner_text()
    phone.screenshot(path=str(artifacts_dir / "ui15-widget-facts.png"))
    chip.click()
    answer.locator(".fedit input").fill("120")  # a bare number on a money chip is 万元, as in the forms
    phone.screenshot(path=str(artifacts_dir / "ui15-widget-chip-editing.png"))
    answer.locator(".fedit button.go").click()
    phone.wait_for_function("() => document.querySelector('#policy-assistant-widget').shadowRoot"
                            ".querySelectorAll('.m.a .b[data-status]').length >= 2")
    fixed = panel.locator(".m.a .b[data-status]").last
    assert "12万元" in fixed.inner_text()
    assert "已更正" in fixed.locator(".fact", has_text="年度购买算力服务总额").inner_text()
    phone.screenshot(path=str(artifacts_dir / "ui15-widget-recomputed.png"))
    session = phone.evaluate("() => Object.entries(localStorage).find(([k]) => k.startsWith('policy-assistant-session:'))")
    turns = httpx.get(f"{server.url}/api/sessions/{session[1]}", timeout=10).json()["turns"]
    assert [t["question"] for t in turns] == [SIMING, "更正：年度购买算力服务总额改为120万元"]


def test_hotline_operator_checks_and_fixes_facts_before_reading_out(page, server, artifacts_dir):
    page.goto(server.url + "/")
    _open_tab(page, "坐席速查")
    page.locator("#pa-relay textarea").fill(SIMING)
    page.locator("#pa-relay-run").click()
    shown = page.locator("#pa-hotline-answer")
    shown.locator(".pa-f--compute_purchase_yuan").wait_for()
    copy = page.locator("#pa-relay-copy textarea")
    page.wait_for_function("() => document.querySelector('#pa-relay-copy textarea').value.startsWith('我读到的信息')")
    assert "80万元" in copy.input_value() and "参考条款" in copy.input_value()
    page.screenshot(path=str(artifacts_dir / "ui15-hotline-facts.png"), full_page=True)
    shown.locator(".pa-f--compute_purchase_yuan").click()
    page.locator(".pa-fact-editor input").fill("150")  # a bare number on a money chip is 万元, as in the forms
    page.locator(".pa-fact-editor .pa-fe-apply").click()
    page.wait_for_function("() => document.querySelector('#pa-hotline-answer').innerText.includes('15万元')")
    assert "已更正" in shown.locator(".pa-f--compute_purchase_yuan").inner_text()
    assert "150万元" in copy.input_value() and "15万元" in copy.input_value()
    page.screenshot(path=str(artifacts_dir / "ui15-hotline-recomputed.png"), full_page=True)
