"""The Gradio app and the widget in real headless Chromium against a real `serve` process (screenshots saved)."""
from __future__ import annotations

import csv
import http.server
import io
import os
import socket
import sqlite3
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ui import harness

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("POLICY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
QUESTION = "厦门企业去年购买算力服务花了80万元，最高能补多少？"
TIMEOUT_MS = 45_000

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: install the Debian package `chromium` (as .ci/run does) to run browser tests",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _HostPages:
    """A plain static server on another loopback port: a third-party page embedding the widget by one tag."""

    def __init__(self, html: str, port: int | None = None):
        self.port = port or _free_port()
        body = html.encode("utf-8")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def embed_port():
    """The one third-party origin the server's CORS allow-list admits."""
    return _free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory, embed_port):
    base = tmp_path_factory.getbasetemp()
    shared = harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    data = harness.fresh_data_dir(shared, tmp_path_factory.mktemp("browser-data"))
    allowed = f"http://127.0.0.1:{embed_port}"
    srv = harness.start_server(data, env={"POLICY_CORS_ORIGINS": allowed, "POLICY_RATE_LIMIT_PER_MINUTE": "100000"})
    srv.data_dir = data
    yield srv
    assert srv.stop() == 0


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _remote_requests(pg) -> list[str]:
    """Every request the page makes to a host other than loopback (the app must work offline: none expected)."""
    remote: list[str] = []

    def check(request):
        host = urlsplit(request.url).hostname or ""
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
            remote.append(request.url)

    pg.on("request", check)
    return remote


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.remote_requests = _remote_requests(pg)
    yield pg
    context.close()
    assert pg.remote_requests == [], "the page reached outside loopback"


@pytest.fixture()
def phone(browser):
    """A phone-sized page, as inside a WeChat H5 page or a mini-program web-view."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN",
                                  user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                                             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI Language/zh_CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    remote = _remote_requests(pg)
    yield pg
    context.close()
    assert remote == [], "the widget reached outside loopback"


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


# --- Gradio app ---------------------------------------------------------------------------------------------------------
def test_chat_answer_shows_citation_and_feedback_is_stored(page, server, artifacts_dir):
    page.goto(server.url + "/")
    page.locator("#pa-question textarea").fill(QUESTION)
    page.locator("#pa-send").click()
    cite = page.locator("#pa-chat details.pa-cite").first
    cite.wait_for()
    chat = page.locator("#pa-chat")
    assert "40万元" in chat.inner_text()
    assert "厦门市促进人工智能产业发展若干措施" in cite.inner_text() and "厦府办规〔2023〕10号" in cite.inner_text()
    cite.locator("summary").click()
    assert "算力券" in cite.locator(".pa-cite-text").inner_text()  # the quoted clause opens in place
    assert chat.locator(".pa-badge").count() >= 1  # validity badge
    assert "计算过程" in chat.inner_text()  # the worked steps (once, as a list)
    page.screenshot(path=str(artifacts_dir / "browser-chat.png"), full_page=True)

    page.get_by_text("对最新回答的评价").click()
    page.locator("#pa-comment textarea").fill("很清楚")
    page.locator("#pa-up").click()
    page.get_by_text("已记录您的评价，谢谢！").wait_for()
    rows = sqlite3.connect(server.data_dir / "app.sqlite3").execute(
        "SELECT rating, comment, channel, question FROM feedback WHERE comment='很清楚'").fetchall()
    assert rows == [(1, "很清楚", "web", QUESTION)]


def test_chat_example_question_and_follow_up(page, server, artifacts_dir):
    page.goto(server.url + "/")
    page.locator(".pa-example", has_text="思明区智改数转评为三级").click()
    chat = page.locator("#pa-chat")
    chat.get_by_text("还需").first.wait_for()  # needs_info: the agent asks for the missing facts
    page.locator("#pa-question textarea").fill("工业企业，数字化改造投入了500万")
    page.locator("#pa-question textarea").press("Enter")
    page.get_by_text("15万元").first.wait_for()  # 500万 × 20% = 100万, capped at 三级 15万 (session memory)
    page.screenshot(path=str(artifacts_dir / "browser-chat-multiturn.png"), full_page=True)


def test_calculator_tab(page, server, artifacts_dir):
    page.goto(server.url + "/")
    _open_tab(page, "补助测算")
    amount = page.get_by_label("年度购买算力服务总额")
    amount.fill("80万")
    page.locator("#pa-calc-run").click()
    result = page.locator("#pa-calc-result .pa-calc-result")
    result.wait_for()
    assert "40万元" in result.locator(".pa-amount-num, .pa-amount-old").first.inner_text()
    assert result.locator(".pa-steps tr").count() >= 2
    assert "厦府办规〔2023〕10号" in result.locator("details.pa-cite").first.inner_text()
    page.screenshot(path=str(artifacts_dir / "browser-calculator.png"), full_page=True)

    # another document and program: the form is rebuilt from that program's facts
    page.locator("#pa-calc-doc input").click()
    page.get_by_role("option", name="思明区｜思明区关于推动人工智能产业发展的若干措施").click()
    page.locator("#pa-calc-program input").click()
    page.get_by_role("option", name="智改数转").first.click()
    page.get_by_label("数字化改造实际投入资金").fill("50万")
    page.locator("#pa-calc-run").click()
    page.locator("#pa-calc-result .pa-missing, #pa-calc-result .pa-unmet, #pa-calc-result .pa-amount").first.wait_for()
    page.screenshot(path=str(artifacts_dir / "browser-calculator-siming.png"), full_page=True)


def test_eligibility_tab_with_csv(page, server, artifacts_dir, tmp_path):
    page.goto(server.url + "/")
    _open_tab(page, "资格自查")
    for label, value in (("所在省份", "福建省"), ("所在城市", "厦门市"), ("所在区（县）", "思明区")):
        box = page.get_by_label(label)
        box.click()
        page.get_by_role("option", name=value).click()
    page.locator("#pa-elig-f-legal_person").get_by_text("是", exact=True).click()
    page.get_by_text("厦门市｜厦门市AI若干措施 相关情况").click()
    page.locator("#pa-elig-f-facts-compute_purchase_yuan input, #pa-elig-f-facts-compute_purchase_yuan textarea").fill("80万")
    page.locator("#pa-elig-run").click()
    table = page.locator("#pa-elig-result table.pa-elig")
    table.wait_for()
    text = table.inner_text()
    assert "不符合" in text and ("符合条件" in text or "需补充信息" in text)
    assert table.locator("tbody tr").count() >= 38
    page.screenshot(path=str(artifacts_dir / "browser-eligibility.png"), full_page=True)
    with page.expect_download() as info:
        page.locator("#pa-elig-csv").click()
    path = tmp_path / "elig.csv"
    info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    header = next(i for i, r in enumerate(rows) if r[:1] == ["项目编号"])  # after the as-of date and the profile
    assert rows[header][:4] == ["项目编号", "项目", "地区", "结论"] and len(rows) - header >= 39


def test_hotline_and_library(page, server, artifacts_dir):
    page.goto(server.url + "/")
    _open_tab(page, "坐席速查")
    page.locator("#pa-search textarea").fill("算力券 申报")
    hit = page.locator("#pa-search-hits .pa-hit").first
    hit.wait_for()
    snippet = page.locator("#pa-snippet textarea")
    page.wait_for_function("document.querySelector('#pa-snippet textarea').value.includes('出处：')")
    assert "《" in snippet.input_value()
    assert page.locator("#pa-doc-cards .pa-doc-card").count() == 5
    assert "0551-" in page.locator("#pa-doc-cards").inner_text()  # 安徽 contacts
    page.screenshot(path=str(artifacts_dir / "browser-hotline.png"), full_page=True)

    _open_tab(page, "政策库")
    page.locator("#pa-library-doc .pa-clause").first.wait_for()
    assert "厦府办规〔2023〕10号" in page.locator("#pa-library-doc").inner_text()
    page.get_by_label("思明区｜思明区AI若干措施").check()
    page.locator("#pa-library-doc").get_by_text("siming:art2").wait_for()
    page.screenshot(path=str(artifacts_dir / "browser-library.png"), full_page=False)


def test_api_docs_render_offline(page, server, artifacts_dir):
    page.goto(server.url + "/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock-summary-path", has_text="/api/chat").count() >= 1
    page.screenshot(path=str(artifacts_dir / "browser-api-docs.png"))


# --- widget -------------------------------------------------------------------------------------------------------------
def test_widget_on_demo_page_keeps_session(phone, server, artifacts_dir):
    phone.goto(server.url + "/widget-demo")
    widget = phone.locator("#policy-assistant-widget")
    widget.locator(".bubble").click()
    panel = widget.locator(".panel.open")
    panel.wait_for()
    box = panel.locator(".panel textarea, textarea").first
    box.fill(QUESTION)
    box.press("Enter")
    answer = panel.locator(".m.a .b[data-status]").last
    answer.wait_for()
    assert "40万元" in answer.inner_text()
    cite = answer.locator("details").first
    assert "厦门市促进人工智能产业发展若干措施" in cite.inner_text()
    cite.locator("summary").click()
    width = phone.evaluate("() => document.querySelector('#policy-assistant-widget').shadowRoot"
                           ".querySelector('.panel').getBoundingClientRect().width")
    assert width == 390  # full-screen panel on a phone
    phone.screenshot(path=str(artifacts_dir / "browser-widget-mobile.png"))
    session = phone.evaluate("() => Object.entries(localStorage).find(([k]) => k.startsWith('policy-assistant-session:'))")
    assert session and session[1]

    phone.reload()
    phone.locator("#policy-assistant-widget .bubble").click()
    restored = phone.locator("#policy-assistant-widget .m.u .b", has_text=QUESTION)
    restored.wait_for()  # the conversation comes back after a page load
    panel = phone.locator("#policy-assistant-widget .panel.open")
    panel.locator("textarea").fill("需要什么申报材料？")
    panel.locator("textarea").press("Enter")
    phone.wait_for_function("() => document.querySelector('#policy-assistant-widget').shadowRoot"
                            ".querySelectorAll('.m.a .b[data-status]').length >= 2")
    turns = httpx.get(f"{server.url}/api/sessions/{session[1]}", timeout=10).json()["turns"]
    assert [t["question"] for t in turns] == [QUESTION, "需要什么申报材料？"]  # same session across page loads


def test_widget_embedded_cross_origin(browser, server, embed_port, artifacts_dir):
    """One script tag on a third-party page: the API base comes from the script src; CORS allows only listed origins."""
    tag = f'<script src="{server.url}/widget.js" data-title="政策小助手"></script>'
    page_html = f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" ' \
                f'content="width=device-width, initial-scale=1"><title>第三方页面</title></head>' \
                f'<body><h1>某单位门户</h1>{tag}</body></html>'
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    try:
        # the allowed origin is fixed at server start, so the page is served from exactly that port
        with _HostPages(page_html, port=embed_port) as allowed:
            pg.goto(allowed.origin + "/")
            assert pg.evaluate("() => window.PolicyAssistantWidget.apiBase") == server.url
            pg.locator("#policy-assistant-widget .bubble").click()
            pg.locator("#policy-assistant-widget textarea").fill(QUESTION)
            pg.locator("#policy-assistant-widget textarea").press("Enter")
            answer = pg.locator("#policy-assistant-widget .m.a .b[data-status]").last
            answer.wait_for()
            assert "40万元" in answer.inner_text()
            pg.screenshot(path=str(artifacts_dir / "browser-widget-embedded.png"))
        with _HostPages(page_html) as other:
            pg.goto(other.origin + "/")
            pg.locator("#policy-assistant-widget .bubble").click()
            pg.locator("#policy-assistant-widget textarea").fill(QUESTION)
            pg.locator("#policy-assistant-widget textarea").press("Enter")
            pg.locator("#policy-assistant-widget .m.err").wait_for()  # blocked by CORS: a Chinese error, no answer
            assert "允许" in pg.locator("#policy-assistant-widget .m.err").inner_text()
    finally:
        context.close()


def test_widget_color_attribute_cannot_inject_markup(browser, server):
    """data-color goes into the widget's CSS: markup or script in it is ignored, the default colour is used."""
    evil = 'red}</style><img src=x onerror="window.__pwned=1"><style>'
    tag = f'<script src="{server.url}/widget.js" data-color=\'{evil}\'></script>'
    ok_tag = f'<script src="{server.url}/widget.js" data-color="#1d4ed8"></script>'
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    bubble_colour = ("() => getComputedStyle(document.querySelector('#policy-assistant-widget').shadowRoot"
                     ".querySelector('.bubble')).backgroundColor")
    try:
        for html, expected in ((tag, "rgb(200, 30, 30)"), (ok_tag, "rgb(29, 78, 216)")):
            page_html = f'<!doctype html><html><head><meta charset="utf-8"></head><body>{html}</body></html>'
            with _HostPages(page_html) as host:
                pg.goto(host.origin + "/")
                pg.locator("#policy-assistant-widget .bubble").wait_for()
                pg.wait_for_timeout(300)  # give an injected onerror handler the chance to run
                assert pg.evaluate("() => window.__pwned") is None
                assert pg.evaluate("() => document.querySelector('#policy-assistant-widget').shadowRoot"
                                   ".querySelectorAll('img').length") == 0
                assert pg.evaluate(bubble_colour) == expected
    finally:
        context.close()


def test_app_behind_a_key_works_in_a_browser_after_login(browser, tmp_path_factory):
    """With POLICY_API_KEY_ENV set, a browser gets the Chinese login form, and after it the whole app works
    (Gradio's own requests carry the cookie); console shows no CSP violation."""
    base = tmp_path_factory.getbasetemp()
    shared = harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    data = harness.fresh_data_dir(shared, tmp_path_factory.mktemp("browser-keyed"))
    srv = harness.start_server(data, env={"POLICY_API_KEY_ENV": "PA_BROWSER_KEY", "PA_BROWSER_KEY": "browser-key-1"})
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    violations: list[str] = []
    pg.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text[:200]))
    try:
        pg.goto(srv.url + "/")
        assert "访问密钥" in pg.content()
        pg.locator("input[name=key]").fill("browser-key-1")
        pg.locator("button[type=submit]").click()
        pg.locator("#pa-question textarea").fill(QUESTION)
        pg.locator("#pa-send").click()
        pg.locator("#pa-chat details.pa-cite").first.wait_for()
        assert "40万元" in pg.locator("#pa-chat").inner_text()
        assert violations == []
    finally:
        context.close()
        srv.stop()
