"""The Gradio app (all Chinese): 智能问答, 补助测算, 资格自查, 坐席速查, 政策库. Handlers call Services only."""
from __future__ import annotations

import datetime as dt
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi.encoders import jsonable_encoder

from ui import views
from ui.examples import CHAT_EXAMPLES as EXAMPLES
from ui.errors import error_for_exception
from ui.format import answer_markdown
from ui.forms import NO, YES, FieldSpec, collect_values, program_fields

CSS = (Path(__file__).parent / "static" / "app.css").read_text(encoding="utf-8")
HEAD = '<meta name="viewport" content="width=device-width, initial-scale=1">'
STREAM_YIELD_S = 0.04
# The events gradio_client sees (api_name → what it does); every other event is private to the web page.
PUBLIC_API = {"chat": "智能问答（流式；同一客户端内多轮对话自动延续）", "calculate": "补助测算（参数同 POST /api/calculate）",
              "eligibility": "资格自查（参数同 POST /api/eligibility）", "search": "条款检索（返回命中条款与可复制的答复片段）"}


# System fonts only: a web font would be a download (and there is no network offline).
CJK_FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "system-ui", "sans-serif"]


def theme():
    return gr.themes.Default(primary_hue="red", secondary_hue="orange", neutral_hue="slate", font=CJK_FONTS,
                             font_mono=["SFMono-Regular", "Consolas", "monospace"])


def _parse_date(text: str | None) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise gr.Error("基准日期格式应为 YYYY-MM-DD，例如 2024-06-30。") from None


def build_blocks(services, settings) -> gr.Blocks:
    # delete_cache: files Gradio copied for download (eligibility CSVs) are removed after an hour
    with gr.Blocks(title="政策通 · 人工智能产业补助政策助手", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        gr.HTML('<div class="pa-header"><div class="pa-logo">政策通</div><div class="pa-tagline">'
                '人工智能产业补助政策 · 智能问答 · 补助测算 · 资格自查 · 坐席速查（金额均为政策上限，以主管部门审核为准）'
                '</div></div>')
        with gr.Tabs():
            with gr.Tab("智能问答", id="chat", elem_id="tab-chat"):
                _chat_tab(services, settings)
            with gr.Tab("补助测算", id="calc", elem_id="tab-calc"):
                _calculator_tab(services)
            with gr.Tab("资格自查", id="eligibility", elem_id="tab-eligibility"):
                _eligibility_tab(services)
            with gr.Tab("坐席速查", id="hotline", elem_id="tab-hotline"):
                _hotline_tab(services)
            with gr.Tab("政策库", id="library", elem_id="tab-library"):
                _library_tab(services)
        gr.HTML('<div class="pa-footer">政策通 · 离线可用 · <a href="/docs" target="_blank">HTTP API 文档</a> · '
                '<a href="/widget-demo" target="_blank">嵌入式小助手演示</a></div>')
        _client_api(services)
    _hide_internal_events(demo)
    demo.queue(default_concurrency_limit=16)
    return demo


def _hide_internal_events(demo: gr.Blocks) -> None:
    """Events outside PUBLIC_API stay callable by the page but are not listed for (or callable by) gradio_client."""
    for fn in demo.fns.values():
        if fn.api_name not in PUBLIC_API:
            fn.api_visibility = "private"
        else:
            fn.api_description = fn.api_description or PUBLIC_API[fn.api_name]


def _client_api(services) -> None:
    """/calculate and /eligibility for gradio_client, with the HTTP API's arguments: the calculator form is rendered per
    program and the self-check form has about ninety fields, so neither form event makes a usable client endpoint."""

    def calculate(program_id: str, facts: dict | None = None, as_of: str | None = None) -> dict:
        """按项目编号（如 xm-compute-voucher）和企业事实（如 {"compute_purchase_yuan": "80万"}）测算最高可获得金额。"""
        day = _parse_date(as_of)
        try:
            return jsonable_encoder(services.calculate(program_id, dict(facts or {}), as_of=day))
        except Exception as exc:  # noqa: BLE001 - a Chinese message for the client, never a traceback
            raise gr.Error(error_for_exception(exc).message) from None

    def eligibility(profile: dict, as_of: str | None = None) -> dict:
        """按企业情况（所在地、是否独立法人、facts 等）逐项判断全部补助项目。"""
        from pydantic import ValidationError

        from ui.errors import validation_message
        from ui.schemas import Profile

        day = _parse_date(as_of)
        try:
            checked = Profile.model_validate(profile or {}).model_dump(exclude_unset=True)
            return jsonable_encoder(services.eligibility(checked, as_of=day))
        except ValidationError as exc:
            raise gr.Error(validation_message([{**e, "loc": ("profile", *e["loc"])} for e in exc.errors()])) from None
        except Exception as exc:  # noqa: BLE001
            raise gr.Error(error_for_exception(exc).message) from None

    gr.api(calculate, api_name="calculate", api_description=PUBLIC_API["calculate"])
    gr.api(eligibility, api_name="eligibility", api_description=PUBLIC_API["eligibility"])


# --- 智能问答 -------------------------------------------------------------------------------------------
def _chat_tab(services, settings) -> None:
    from policy_assistant.conversations import ChatSession

    session = gr.State(None)
    turns = gr.State([])
    # What the page shows lives on the server (a State): the page's own events never send the conversation back, so
    # a long conversation stays far under the body limit and cannot be inflated by the browser. Bounded to
    # max_history_turns. (The public "chat" endpoint for gradio_client still accepts a history, body-limited.)
    shown = gr.State([])
    max_messages = 2 * settings.max_history_turns
    chatbot = gr.Chatbot(label="政策通", height=560, elem_id="pa-chat", layout="bubble", buttons=["copy"],
                         placeholder="您好！我是政策通，可以回答厦门、思明、泉州、安徽人工智能产业补助政策的问题，"
                                     "并帮您测算最高补助金额。")
    with gr.Row(equal_height=True):
        question = gr.Textbox(label="问题", show_label=False, placeholder="请输入您的问题，按回车发送", scale=8, elem_id="pa-question",
                              max_length=settings.max_question_chars, autofocus=True)
        send = gr.Button("发送", variant="primary", scale=1, elem_id="pa-send", min_width=80)
        clear = gr.Button("新对话", scale=1, min_width=80, elem_id="pa-new")
    gr.Markdown("**示例问题**（点击即问）")
    with gr.Row(elem_classes="pa-examples"):
        example_buttons = [gr.Button(q, size="sm", elem_classes="pa-example") for q in EXAMPLES]
    with gr.Accordion("对最新回答的评价", open=False, elem_id="pa-feedback"):
        with gr.Row():
            comment = gr.Textbox(label="意见（可选）", placeholder="哪里不准确或还想了解什么？", scale=6, elem_id="pa-comment")
            up = gr.Button("👍 有帮助", scale=1, elem_id="pa-up")
            down = gr.Button("👎 没帮助", scale=1, elem_id="pa-down")
        feedback_status = gr.Markdown("", elem_id="pa-feedback-status")
    with gr.Accordion("高级选项", open=False):
        as_of = gr.Textbox(label="基准日期（可选，YYYY-MM-DD；默认今天）", elem_id="pa-asof")
    api_trigger = gr.Button(visible=False)  # the public "chat" endpoint's event; the page never fires it

    def respond(question, history=None, session_id=None, turn_ids=None, as_of=None):
        history = list(history or [])[-max_messages + 2:]
        turn_ids = list(turn_ids or [])[-settings.max_history_turns + 1:]
        if not (question or "").strip():
            yield gr.update(), history, history, session_id, turn_ids
            return
        try:
            events = services.chat_stream(question, ChatSession(id=session_id, as_of=_parse_date(as_of)), "web")
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - bad input: the person sees why, in Chinese
            raise gr.Error(error_for_exception(exc).message) from None
        history += [{"role": "user", "content": question.strip()}, {"role": "assistant", "content": "正在查询政策条款……"}]
        yield "", history, history, session_id, turn_ids
        streamed, last = "", 0.0
        try:
            for event in events:
                if event["type"] == "token":
                    streamed += event["text"]
                    if time.monotonic() - last >= STREAM_YIELD_S:
                        history[-1] = {"role": "assistant", "content": streamed}
                        last = time.monotonic()
                        yield "", history, history, session_id, turn_ids
                else:
                    payload = event["answer"]
                    session_id, turn_ids = payload["session_id"], [*turn_ids, payload.get("turn_id")]
                    history[-1] = {"role": "assistant", "content": answer_markdown(payload)}
                    yield "", history, history, session_id, turn_ids
        except Exception as exc:  # noqa: BLE001 - the person sees a Chinese message, never a traceback
            history[-1] = {"role": "assistant", "content": "⚠️ " + error_for_exception(exc).message}
            turn_ids = [*turn_ids, None]  # one entry per shown answer, so 👍/👎 find the right turn
            yield "", history, history, session_id, turn_ids

    outputs = [question, chatbot, shown, session, turns]
    page_inputs = [question, shown, session, turns, as_of]
    question.submit(respond, page_inputs, outputs)
    send.click(respond, page_inputs, outputs)
    api_trigger.click(respond, [question, chatbot, session, turns, as_of], outputs, api_name="chat")
    for button in example_buttons:
        button.click(lambda q: q, inputs=button, outputs=question, queue=False).then(respond, page_inputs, outputs)
    clear.click(lambda: ([], [], None, [], "", ""), outputs=[chatbot, shown, session, turns, question, feedback_status],
                queue=False)

    def rate(rating: int):
        def handler(turn_ids, session_id, text):
            if not turn_ids or turn_ids[-1] is None:
                return "请先提问，再对回答进行评价。", text
            try:
                services.feedback(rating=rating, session_id=session_id, turn_id=turn_ids[-1],
                                  comment=(text or "").strip()[:2000], channel="web")
            except Exception as exc:  # noqa: BLE001
                return "⚠️ " + error_for_exception(exc).message, text
            return "已记录您的评价，谢谢！", ""
        return handler

    up.click(rate(1), [turns, session, comment], [feedback_status, comment])
    down.click(rate(-1), [turns, session, comment], [feedback_status, comment])

    def on_like(data: gr.LikeData, turn_ids, session_id):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        k = int(index) // 2
        if 0 <= k < len(turn_ids) and turn_ids[k] is not None:
            services.feedback(rating=1 if data.liked else -1, session_id=session_id, turn_id=turn_ids[k], channel="web")
            return "已记录您的评价，谢谢！"
        return ""

    chatbot.like(on_like, [turns, session], feedback_status)


# --- 补助测算 -------------------------------------------------------------------------------------------
def _program_groups(services) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """Documents (labelled by region) and the programs under each, in the rules' order."""
    docs: dict[str, str] = {}
    by_doc: dict[str, list[tuple[str, str]]] = {}
    for p in services.programs():
        docs.setdefault(p["doc_id"], f"{p['region']}｜{p['document']}")
        by_doc.setdefault(p["doc_id"], []).append((p.get("short_name") or p["name"], p["id"]))
    return [(label, doc_id) for doc_id, label in docs.items()], by_doc


def _field_component(spec: FieldSpec, prefix: str, value: Any = None):
    label = spec.label
    elem_id = prefix + re.sub(r"[^A-Za-z0-9_-]", "-", spec.name)
    if spec.kind == "bool":
        return gr.Radio([YES, NO], label=label, value=value, info=spec.hint or None, elem_id=elem_id)
    if spec.kind == "choice":
        return gr.Dropdown(spec.choices, label=label, value=value, multiselect=spec.multiple, info=spec.hint or None,
                           allow_custom_value=spec.custom, elem_id=elem_id)
    return gr.Textbox(label=label, value=value, placeholder=spec.hint, max_lines=1, elem_id=elem_id)


def _calculator_tab(services) -> None:
    try:
        doc_choices, by_doc = _program_groups(services)
    except Exception as exc:  # noqa: BLE001 - rules not available: show why instead of failing the whole app
        gr.Markdown("⚠️ " + error_for_exception(exc).message)
        return
    first_doc = doc_choices[0][1] if doc_choices else None
    first_program = by_doc[first_doc][0][1] if first_doc else None
    with gr.Row():
        doc = gr.Dropdown(doc_choices, value=first_doc, label="政策文件（按地区）", elem_id="pa-calc-doc", scale=3)
        program = gr.Dropdown(by_doc.get(first_doc, []), value=first_program, label="补助项目",
                              elem_id="pa-calc-program", scale=2)
    with gr.Accordion("基准日期（可选）", open=False):
        as_of = gr.Textbox(label="按此日期判断政策效力，YYYY-MM-DD；默认今天", elem_id="pa-calc-asof")

    doc.change(lambda d: gr.update(choices=by_doc.get(d, []), value=(by_doc.get(d) or [(None, None)])[0][1]),
               doc, program, queue=False)

    @gr.render(inputs=program)
    def facts_form(program_id):
        if not program_id:
            gr.Markdown("请选择补助项目。")
            return
        specs = program_fields(services.catalog, program_id)
        gr.Markdown("请填写企业情况（留空表示暂不清楚，系统会提示还需补充的信息）：")
        with gr.Group(elem_id="pa-calc-form"):
            components = [_field_component(s, "pa-calc-f-") for s in specs]
        run = gr.Button("开始测算", variant="primary", elem_id="pa-calc-run")

        def calculate(as_of_text, *values):
            try:
                calc = services.calculate(program_id, collect_values(specs, list(values)), as_of=_parse_date(as_of_text))
                return views.calculation_html(jsonable_encoder(calc))
            except gr.Error:
                raise
            except Exception as exc:  # noqa: BLE001
                return f'<div class="pa-warn">{views.e(error_for_exception(exc).message)}</div>'

        run.click(calculate, [as_of, *components], result, api_visibility="private")

    result = gr.HTML(elem_id="pa-calc-result")  # below the form; the render above fills it
    program.change(lambda: "", None, result, queue=False)


# --- 资格自查 -------------------------------------------------------------------------------------------
def _eligibility_tab(services) -> None:
    from ui.forms import collect_profile, profile_sections

    try:
        sections = profile_sections(services.catalog)
    except Exception as exc:  # noqa: BLE001
        gr.Markdown("⚠️ " + error_for_exception(exc).message)
        return
    gr.Markdown("填写一次企业情况，逐项判断全部补助项目：符合 / 不符合 / 需补充信息，并给出最高金额与叠加规则提示。"
                "不清楚的项目可留空。")
    components: list = []
    specs: list[FieldSpec] = []
    for i, (title, fields) in enumerate(sections):
        with gr.Accordion(title, open=i == 0):
            with gr.Row(elem_classes="pa-form-grid"):
                for spec in fields:
                    components.append(_field_component(spec, "pa-elig-f-"))
                    specs.append(spec)
    with gr.Row():
        as_of = gr.Textbox(label="基准日期（可选，YYYY-MM-DD）", scale=2, elem_id="pa-elig-asof")
        run = gr.Button("开始自查", variant="primary", scale=1, elem_id="pa-elig-run")
    result = gr.HTML(elem_id="pa-elig-result")
    download = gr.DownloadButton("下载 CSV", visible=False, elem_id="pa-elig-csv")

    def check(as_of_text, *values):
        try:
            profile = collect_profile(specs, list(values))
            report = jsonable_encoder(services.eligibility(profile, as_of=_parse_date(as_of_text)))
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001
            return f'<div class="pa-warn">{views.e(error_for_exception(exc).message)}</div>', gr.update(visible=False)
        return views.eligibility_html(report), gr.update(value=_write_csv(views.eligibility_csv(report)), visible=True)

    run.click(check, [as_of, *components], [result, download])


CSV_DIR_NAME = "policy-assistant-csv"
CSV_MAX_AGE_S = 3600


def _write_csv(text: str) -> str:
    """A download file in our own temp folder; files older than an hour there are removed on each write."""
    folder = Path(tempfile.gettempdir()) / CSV_DIR_NAME
    folder.mkdir(mode=0o700, exist_ok=True)
    cutoff = time.time() - CSV_MAX_AGE_S
    for old in folder.glob("*.csv"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass
    with tempfile.NamedTemporaryFile("w", encoding="utf-8-sig", newline="", suffix=".csv", prefix="资格自查_",
                                     dir=folder, delete=False) as fh:
        fh.write(text)
    return fh.name


# --- 坐席速查 -------------------------------------------------------------------------------------------
def _hotline_tab(services) -> None:
    documents = list(services.catalog.documents.values())
    regions = ["全部"] + list(dict.fromkeys(d.region for d in documents))
    doc_choices = [("全部文件", "")] + [(f"{d.region}｜{d.short_title}", d.id) for d in documents]

    def do_search(query, region="全部", doc_id=""):
        text, region_name = (query or "").strip(), region
        if not text:
            return "", ""
        try:
            result = services.search(text[:200], k=6, region=None if region_name in (None, "", "全部") else region_name,
                                     doc_id=doc_id or None)
            data = jsonable_encoder(result)
        except Exception as exc:  # noqa: BLE001
            return f'<div class="pa-warn">{views.e(error_for_exception(exc).message)}</div>', ""
        return views.search_html(data), views.snippet_text(data)

    def show_cards(region_name="全部", doc_id=""):
        chosen = [d for d in documents if (region_name in (None, "", "全部") or d.region == region_name)
                  and (not doc_id or d.id == doc_id)]
        return views.document_cards_html(chosen, _overview(services))

    with gr.Row():
        query = gr.Textbox(label="检索条款", placeholder="输入关键词，如：算力券 申报材料 联系电话", scale=4,
                           elem_id="pa-search")
        region = gr.Dropdown(regions, value="全部", label="地区", scale=1, elem_id="pa-search-region")
        doc = gr.Dropdown(doc_choices, value="", label="文件", scale=2, elem_id="pa-search-doc")
    with gr.Row():
        with gr.Column(scale=3):
            hits = gr.HTML(elem_id="pa-search-hits")
        with gr.Column(scale=2):
            snippet = gr.Textbox(label="可复制的答复片段（含出处）", lines=10, buttons=["copy"], interactive=False,
                                 elem_id="pa-snippet")
    gr.Markdown("### 联系方式与申报时间")
    cards = gr.HTML(show_cards, elem_id="pa-doc-cards")

    query.change(do_search, [query, region, doc], [hits, snippet], trigger_mode="always_last", show_progress="hidden",
                 api_name="search")
    for control in (region, doc):
        control.change(do_search, [query, region, doc], [hits, snippet], trigger_mode="always_last")
        control.change(show_cards, [region, doc], cards)


def _overview(services) -> list[dict[str, Any]]:
    try:
        return jsonable_encoder(services.documents())
    except Exception as exc:  # noqa: BLE001 - validity unavailable: cards still show dates and contacts
        error_for_exception(exc)
        return []


# --- 政策库 ---------------------------------------------------------------------------------------------
def _library_tab(services) -> None:
    documents = list(services.catalog.documents.values())
    clauses = list(services.catalog.clauses.values())
    gr.HTML(lambda: views.overview_table(documents, _overview(services)), elem_id="pa-library-overview")
    pick = gr.Radio([(f"{d.region}｜{d.short_title}", d.id) for d in documents], value=documents[0].id,
                    label="选择文件", elem_id="pa-library-pick")

    def show(doc_id=documents[0].id):
        doc = next(d for d in documents if d.id == doc_id)
        return views.library_html(doc, [c for c in clauses if c.doc_id == doc_id], _overview(services))

    body = gr.HTML(show, elem_id="pa-library-doc")
    pick.change(show, pick, body)
