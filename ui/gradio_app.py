"""The Gradio app (all Chinese): 智能问答, 补助测算, 资格自查, 坐席速查, 政策库. Handlers call Services only."""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
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
from ui.forms import NO, YES, FieldSpec, collect_values, implausible_amounts, program_fields

STATIC = Path(__file__).parent / "static"
CSS = (STATIC / "app.css").read_text(encoding="utf-8")
HEAD = ('<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<script>{(STATIC / "app.js").read_text(encoding="utf-8")}</script>')
STREAM_YIELD_S = 0.04
RECENT_MAX = 20  # conversations listed under 最近对话 (kept in the browser)
NOTICE = "提示"  # the title of error pop-ups (Gradio's default is English)
PLACEHOLDER = "正在查询政策条款……"
# The events gradio_client sees (api_name → what it does); every other event is private to the web page.
PUBLIC_API = {"chat": "智能问答（流式；同一客户端内多轮对话自动延续）", "calculate": "补助测算（参数同 POST /api/calculate）",
              "eligibility": "资格自查（参数同 POST /api/eligibility）", "search": "条款检索（返回命中条款与可复制的答复片段）"}


# System fonts only: a web font would be a download (and there is no network offline).
CJK_FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "system-ui", "sans-serif"]


def theme():
    # Contrast ≥ 4.5:1 (WCAG AA): red-700 behind white button text and for the selected tab, slate-500 placeholders.
    return gr.themes.Default(primary_hue="red", secondary_hue="orange", neutral_hue="slate", font=CJK_FONTS,
                             font_mono=["SFMono-Regular", "Consolas", "monospace"]).set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
        button_primary_text_color="white", button_primary_border_color="*primary_700",
        color_accent="*primary_700", input_placeholder_color="*neutral_500", input_text_size="16px")


def i18n():
    """Gradio strings its Chinese translation lacks (the chat's copy buttons, a status tracker's “complete”)."""
    return gr.I18n(**{"zh-CN": {"chatbot": {"copy_message": "复制回答（纯文本）", "copied_message": "已复制"},
                                "common": {"complete": "完成"}}})


def _error(message: str) -> gr.Error:
    return gr.Error(message, title=NOTICE)


def _parse_date(text: str | None) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _error(f"基准日期格式应为 YYYY-MM-DD，例如 2024-06-30（您填写的是“{text}”）。") from None


def build_blocks(services, settings) -> gr.Blocks:
    # delete_cache: files Gradio copied for download (eligibility CSVs) are removed after an hour
    with gr.Blocks(title="政策通 · 人工智能产业补助政策助手", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        gr.HTML('<header class="pa-header"><div class="pa-logo">政策通</div><div class="pa-tagline">'
                '人工智能产业补助政策 · 智能问答 · 补助测算 · 资格自查 · 坐席速查（金额均为政策上限，以主管部门审核为准）'
                '</div></header>')
        with gr.Tabs(overflow_behavior="wrap", elem_id="pa-tabs"):
            with gr.Tab("智能问答", id="chat", elem_id="tab-chat"):
                _chat_tab(demo, services, settings)
            with gr.Tab("补助测算", id="calc", elem_id="tab-calc"):
                _calculator_tab(services)
            with gr.Tab("资格自查", id="eligibility", elem_id="tab-eligibility"):
                _eligibility_tab(services)
            with gr.Tab("坐席速查", id="hotline", elem_id="tab-hotline") as hotline:
                _hotline_tab(services)
            with gr.Tab("政策库", id="library", elem_id="tab-library"):
                _library_tab(services)
        hotline.select(None, js="() => setTimeout(() => window.paFocus && paFocus('#pa-search textarea'), 60)")
        gr.HTML('<footer class="pa-footer">政策通 · 离线可用 · <a href="/docs" target="_blank">HTTP API 文档</a> · '
                '<a href="/widget-demo" target="_blank">嵌入式小助手演示</a></footer>')
        _client_api(services)
        demo.load(None, js="() => setTimeout(() => window.paFocusQuestion && paFocusQuestion(), 100)")
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
            raise _error(error_for_exception(exc).message) from None

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
            raise _error(validation_message([{**e, "loc": ("profile", *e["loc"])} for e in exc.errors()])) from None
        except Exception as exc:  # noqa: BLE001
            raise _error(error_for_exception(exc).message) from None

    gr.api(calculate, api_name="calculate", api_description=PUBLIC_API["calculate"])
    gr.api(eligibility, api_name="eligibility", api_description=PUBLIC_API["eligibility"])


def _checked_override(override: dict[str, Any]) -> dict[str, Any]:
    """A fact chip's correction checked as POST /api/chat checks `facts_override` (plain values only)."""
    from pydantic import ValidationError

    from ui.errors import validation_message
    from ui.schemas import ChatRequest

    try:
        return ChatRequest.model_validate({"facts_override": override}).facts_override or {}
    except ValidationError as exc:
        raise _error(validation_message([{**e, "loc": ("facts_override", *e["loc"][1:])} for e in exc.errors()])) from None


# --- 智能问答 -------------------------------------------------------------------------------------------
def _browser_secret(settings) -> str:
    """A key for the browser-kept conversation list that survives restarts (kept in the data directory): without it
    Gradio picks a new one per process and a restart forgets every browser's conversations. It guards convenience
    data (which conversations this browser had), not access: a conversation is read only by its server-issued id."""
    path = Path(settings.data_dir) / ".browser-state-key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_hex(16), encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()
    except OSError:  # a read-only data dir: conversations are still restored until the next restart
        return secrets.token_hex(16)


def _conversation(services, session_id: str | None, limit: int) -> tuple[list[dict], list[int | None]]:
    """A kept conversation as chat messages (question, rendered answer) and the turn ids the 👍/👎 refer to; nothing
    when the server did not issue the id or no longer has it (deleted, purged after the retention period)."""
    from policy_assistant.conversations import ConversationNotFound

    if not session_id:
        return [], []
    try:
        turns = services.conversation(session_id, limit=limit)
    except (ConversationNotFound, ValueError):
        return [], []
    messages: list[dict] = []
    ids: list[int | None] = []
    for turn in turns:
        messages += [{"role": "user", "content": turn["question"]},
                     {"role": "assistant", "content": answer_markdown(turn["answer"])}]
        ids.append(turn.get("turn_id"))
    return messages, ids


def _remember(saved: dict | None, session_id: str, question: str) -> dict:
    """The browser's conversation list with `session_id` first (titled by its first question) and current."""
    saved = dict(saved or {})
    recent = [dict(r) for r in saved.get("recent") or [] if isinstance(r, dict) and r.get("id")]
    old = next((r for r in recent if r["id"] == session_id), None)
    title = (old or {}).get("title") or question.strip()[:28]
    recent = [r for r in recent if r["id"] != session_id]
    recent.insert(0, {"id": session_id, "title": title, "at": dt.datetime.now().strftime("%m-%d %H:%M")})
    return {"current": session_id, "recent": recent[:RECENT_MAX]}


def _recent_choices(saved: dict | None) -> list[tuple[str, str]]:
    return [(f"{r['title']}（{r.get('at', '')}）", r["id"]) for r in (saved or {}).get("recent") or []
            if isinstance(r, dict) and r.get("id")]


EXPIRED_CONVERSATION = "之前的对话已过期或已被删除，已为您开始新对话。"


def _chat_tab(demo, services, settings) -> None:
    from policy_assistant.conversations import ChatSession, ConversationNotFound

    session = gr.State(None)
    turns = gr.State([])
    # What the page shows lives on the server (a State): the page's own events never send the conversation back, so
    # a long conversation stays far under the body limit and cannot be inflated by the browser. Bounded to
    # max_history_turns. (The public "chat" endpoint for gradio_client still accepts a history, body-limited.)
    shown = gr.State([])
    max_messages = 2 * settings.max_history_turns
    pending = gr.State(None)  # the question being answered
    busy = gr.State(False)
    saved = gr.BrowserState({"current": None, "recent": []}, storage_key="policy-assistant-web",
                            secret=_browser_secret(settings))
    with gr.Row(elem_id="pa-chat-layout"):
        with gr.Column(scale=1, min_width=200, elem_id="pa-history-col"):
            new_chat = gr.Button("＋ 新对话", elem_id="pa-new", size="md")
            recent = gr.Radio([], value=None, label="最近对话", elem_id="pa-recent", interactive=True)
        with gr.Column(scale=4, elem_id="pa-chat-col"):
            chatbot = gr.Chatbot(label="政策通", height=560, elem_id="pa-chat", layout="bubble", buttons=["copy"],
                                 autoscroll=False,
                                 placeholder="您好！我是政策通，可以回答厦门、思明、泉州、安徽人工智能产业补助政策的问题，"
                                             "并帮您测算最高补助金额。")
            with gr.Row(equal_height=True, elem_id="pa-input-row"):
                question = gr.Textbox(label="问题", show_label=False, placeholder="请输入您的问题，按回车发送",
                                      scale=8, elem_id="pa-question", max_length=settings.max_question_chars)
                send = gr.Button("发送", variant="primary", scale=1, elem_id="pa-send", min_width=80)
                stop = gr.Button("停止", variant="secondary", scale=1, elem_id="pa-stop", min_width=80, visible=False)
            feedback_status = gr.Markdown("", elem_id="pa-feedback-status")
            gr.Markdown("**示例问题**（点击即问）")
            with gr.Row(elem_classes="pa-examples"):
                example_buttons = [gr.Button(q, size="sm", elem_classes="pa-example") for q in EXAMPLES]
            with gr.Accordion("对最新回答的评价", open=False, elem_id="pa-feedback"):
                with gr.Row():
                    comment = gr.Textbox(label="意见（可选）", placeholder="哪里不准确或还想了解什么？", scale=6,
                                         elem_id="pa-comment")
                    up = gr.Button("有帮助", icon=str(STATIC / "thumb-up.svg"), scale=1, elem_id="pa-up")
                    down = gr.Button("没帮助", icon=str(STATIC / "thumb-down.svg"), scale=1, elem_id="pa-down")
            with gr.Accordion("高级选项", open=False):
                as_of = gr.Textbox(label="基准日期（可选，如 2024-06-30；默认今天）", elem_id="pa-asof")
            # a fact chip's correction arrives here (ui/static/app.js): {"fact": name, "value": text or null}
            fact_edit = gr.Textbox(label="更正的信息", show_label=False, container=False, elem_id="pa-fact-edit", elem_classes="pa-offscreen")
            fact_apply = gr.Button("重新计算", elem_id="pa-fact-apply", elem_classes="pa-offscreen")

    def start(text, history, is_busy, *, clear_box: bool = True):
        """Send: the question leaves the box (only now), the send button is disabled and 停止 shown. A question
        sent while an answer is pending is not taken: it stays in the box (nothing typed is lost)."""
        text = (text or "").strip()
        if is_busy:  # the page holds a second question back itself; this only ends the chain if one slips through
            raise gr.Error("", visible=False, title=NOTICE)
        if not text:  # nothing to send: the answer step is told so ("") and does nothing
            return (gr.skip(),) * 3 + ("", gr.skip(), gr.skip(), gr.skip(), gr.skip())
        if len(text) > settings.max_question_chars:
            raise _error(f"问题过长：最多 {settings.max_question_chars} 个字符（当前 {len(text)} 个）。")
        history = [*list(history or [])[-max_messages + 2:], {"role": "user", "content": text},
                   {"role": "assistant", "content": PLACEHOLDER}]
        box = "" if clear_box else gr.skip()
        return box, history, history, text, True, gr.update(interactive=False), gr.update(visible=True), ""

    def start_example(text, history, is_busy):
        return start(text, history, is_busy, clear_box=False)

    def open_stream(text, session_id, as_of_text):
        """Services.chat_stream (the server issues and keeps the conversation's id): input problems (too long,
        nothing visible, a bad date, an id the server did not issue) raise here, before the first event."""
        return services.chat_stream(text, ChatSession(id=session_id, as_of=_parse_date(as_of_text)), "web")

    def answer(text, history, session_id, turn_ids, as_of_text, saved_state, events=None):
        """The question answered and streamed into the last bubble; the conversation goes to the top of 最近对话."""
        skip = gr.skip()
        if not text:
            yield skip, skip, skip, skip, skip, skip
            return
        history = list(history or [])[-max_messages:]
        turn_ids = list(turn_ids or [])[-settings.max_history_turns + 1:]
        if len(history) < 2 or history[-1].get("content") != PLACEHOLDER or history[-2].get("content") != text:
            # the page's restore on load can land after the question was sent: put the question back in place
            history += [{"role": "user", "content": text}, {"role": "assistant", "content": PLACEHOLDER}]
        notice = ""
        try:
            if events is None:
                try:
                    events = open_stream(text, session_id, as_of_text)
                except ConversationNotFound:
                    if not session_id:
                        raise
                    # deleted, or kept past the retention period: the question starts a new conversation, and says so
                    notice = f'<div class="pa-warn pa-notice">{views.e(EXPIRED_CONVERSATION)}</div>\n\n'
                    session_id, turn_ids = None, [None] * len(turn_ids)
                    events = open_stream(text, None, as_of_text)
            streamed, last = "", 0.0
            for event in events:
                if event["type"] == "token":
                    streamed += event["text"]
                    if time.monotonic() - last >= STREAM_YIELD_S:
                        history[-1] = {"role": "assistant", "content": streamed}
                        last = time.monotonic()
                        yield history, history, skip, skip, skip, skip
                else:
                    payload = event["answer"]
                    session_id, turn_ids = payload["session_id"], [*turn_ids, payload.get("turn_id")]
                    history[-1] = {"role": "assistant", "content": notice + answer_markdown(payload)}
                    saved_state = _remember(saved_state, session_id, text) if saved_state is not None else None
                    yield (history, history, session_id, turn_ids, saved_state if saved_state is not None else skip,
                           gr.update(choices=_recent_choices(saved_state), value=session_id)
                           if saved_state is not None else skip)
        except Exception as exc:  # noqa: BLE001 - the person sees a Chinese message, never a traceback
            message = exc.message if isinstance(exc, gr.Error) else error_for_exception(exc).message
            history[-1] = {"role": "assistant", "content": f'<div class="pa-warn">{views.e(message)}</div>'}
            turn_ids = [*turn_ids, None]  # one entry per shown answer, so 👍/👎 find the right turn
            yield history, history, session_id, turn_ids, skip, skip

    def finish():
        return False, gr.update(interactive=True), gr.update(visible=False)

    def stopped(history):
        history = list(history or [])
        if history and history[-1].get("role") == "assistant":
            history[-1] = {"role": "assistant", "content": (history[-1].get("content") or "").replace(
                PLACEHOLDER, "") + "\n\n（已停止回答）"}
        return history, history, False, gr.update(interactive=True), gr.update(visible=False)

    scroll = "() => setTimeout(() => window.paScrollToQuestion && paScrollToQuestion(), 30)"
    started = [question, chatbot, shown, pending, busy, send, stop, feedback_status]
    answered = [chatbot, shown, session, turns, saved, recent]
    answer_inputs = [pending, shown, session, turns, as_of, saved]
    answering = []
    triggers = [gr.on([question.submit, send.click], start, [question, shown, busy], started, queue=False)]
    triggers += [b.click(start_example, [b, shown, busy], started, queue=False) for b in example_buttons]
    for trigger in triggers:
        run = trigger.success(None, js=scroll).then(answer, answer_inputs, answered, show_progress="hidden")
        answering.append(run)
        run.then(finish, None, [busy, send, stop], queue=False).then(None, js=scroll)
    stop.click(stopped, [shown], [chatbot, shown, busy, send, stop], cancels=answering, queue=False)

    def respond(question, history=None, session_id=None, turn_ids=None, as_of=None):
        """/chat for gradio_client: one event (question, history, as_of → cleared question, history); the session
        continues within one client. The page itself uses the start → answer → finish chain above."""
        text, history = (question or "").strip(), list(history or [])[-max_messages + 2:]
        if not text:
            yield gr.update(), history, session_id, turn_ids
            return
        try:
            events = open_stream(text, session_id, as_of)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - bad input: the client gets why, in Chinese
            raise _error(error_for_exception(exc).message) from None
        history += [{"role": "user", "content": text}, {"role": "assistant", "content": PLACEHOLDER}]
        yield "", history, session_id, turn_ids
        for shown_now, _, sid, ids, _, _ in answer(text, history, session_id, turn_ids, as_of, None, events):
            session_id = session_id if isinstance(sid, dict) else sid  # a skip update keeps the last value
            turn_ids = turn_ids if isinstance(ids, dict) else ids
            yield "", shown_now, session_id, turn_ids

    api_trigger = gr.Button(visible=False, elem_id="pa-chat-api")  # the public "chat" endpoint's event
    api_trigger.click(respond, [question, chatbot, session, turns, as_of], [question, chatbot, session, turns],
                      api_name="chat")

    def apply_fact(edit, history, session_id, turn_ids, as_of_text, saved_state, is_busy):
        """A fact chip corrected: the conversation's last question recomputed with it through Services.chat (the
        calculator, never a model); the conversation keeps the correction and records it as a turn."""
        skip = gr.skip()
        if is_busy or not session_id or not (edit or "").strip():
            return skip, skip, skip, skip, skip, skip, ""
        history = list(history or [])[-max_messages + 2:]
        turn_ids = list(turn_ids or [])[-settings.max_history_turns + 1:]
        try:
            data = json.loads(edit)
            fact, value = str(data["fact"]), data.get("value")
        except (ValueError, KeyError, TypeError):
            return skip, skip, skip, skip, skip, skip, ""
        fd = services.catalog.facts.get(fact)
        tried = f"更正：{fd.label if fd else fact}" + (f"改为{value}" if value is not None else "（删除）")
        try:
            override = _checked_override({fact: value})
            payload = services.chat(None, ChatSession(id=session_id, as_of=_parse_date(as_of_text)), "web",
                                    facts_override=override)
        except ConversationNotFound:
            gone = "这段对话已过期或已被删除，无法更正。请重新提问，会开始新对话。"
            history += [{"role": "user", "content": tried},
                        {"role": "assistant", "content": f'<div class="pa-warn">{views.e(gone)}</div>'}]
            saved_state = {**(saved_state or {}), "current": None}
            return history, history, [*turn_ids, None], saved_state, gr.update(value=None), None, ""
        except Exception as exc:  # noqa: BLE001 - refused (unreadable value, unrelated fact): said in Chinese, nothing changes
            message = exc.message if isinstance(exc, gr.Error) else error_for_exception(exc).message
            history += [{"role": "user", "content": tried},
                        {"role": "assistant", "content": f'<div class="pa-warn">{views.e(message)}</div>'}]
            return history, history, [*turn_ids, None], skip, skip, skip, ""
        asked = services.describe_override(payload)
        history += [{"role": "user", "content": asked}, {"role": "assistant", "content": answer_markdown(payload)}]
        saved_state = _remember(saved_state, session_id, asked)
        return (history, history, [*turn_ids, payload.get("turn_id")], saved_state,
                gr.update(choices=_recent_choices(saved_state), value=session_id), skip, "")

    fact_apply.click(apply_fact, [fact_edit, shown, session, turns, as_of, saved, busy],
                     [chatbot, shown, turns, saved, recent, session, fact_edit], show_progress="hidden") \
        .then(None, js=scroll)

    def new_conversation(saved_state):
        """One control starts afresh: a new session (the old one stays under 最近对话)."""
        saved_state = {**(saved_state or {}), "current": None}
        return ([], [], None, [], "", "", saved_state, gr.update(choices=_recent_choices(saved_state), value=None))

    fresh = [chatbot, shown, session, turns, question, feedback_status, saved, recent]
    new_chat.click(new_conversation, [saved], fresh, queue=False)
    chatbot.clear(new_conversation, [saved], fresh, queue=False)  # Gradio's own clear does the same (hidden by CSS)

    def open_conversation(session_id, saved_state, is_busy):
        if is_busy or not session_id:
            return (gr.skip(),) * 5
        history, ids = _conversation(services, session_id, settings.max_history_turns)
        saved_state = {**(saved_state or {}), "current": session_id if history else None}
        return history, history, session_id if history else None, ids, saved_state

    recent.input(open_conversation, [recent, saved, busy], [chatbot, shown, session, turns, saved], queue=False) \
        .then(None, js=scroll)

    def restore(saved_state):
        """On page load: the conversation this browser was in, and its list of recent conversations."""
        saved_state = saved_state if isinstance(saved_state, dict) else {"current": None, "recent": []}
        current = saved_state.get("current")
        history, ids = _conversation(services, current, settings.max_history_turns)
        choices = gr.update(choices=_recent_choices(saved_state), value=current if history else None)
        if not history:  # nothing to restore: leave the chat as it is (a question may already be on its way)
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), choices
        return history, history, current, ids, choices

    demo.load(restore, [saved], [chatbot, shown, session, turns, recent], queue=False).then(None, js=scroll)

    def rate(rating: int):
        def handler(turn_ids, session_id, text):
            if not turn_ids or turn_ids[-1] is None:
                return "请先提问，再对回答进行评价。", text
            try:
                services.feedback(rating=rating, session_id=session_id, turn_id=turn_ids[-1],
                                  comment=(text or "").strip()[:2000], channel="web")
            except Exception as exc:  # noqa: BLE001
                return "⚠️ " + error_for_exception(exc).message, text
            return "✔ 已记录您的评价，谢谢！", ""
        return handler

    up.click(rate(1), [turns, session, comment], [feedback_status, comment])
    down.click(rate(-1), [turns, session, comment], [feedback_status, comment])

    def on_like(data: gr.LikeData, turn_ids, session_id):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        k = int(index) // 2
        if 0 <= k < len(turn_ids) and turn_ids[k] is not None:
            services.feedback(rating=1 if data.liked else -1, session_id=session_id, turn_id=turn_ids[k], channel="web")
            return "✔ 已记录您的评价，谢谢！"
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
    label = spec.shown_label
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
        gr.HTML(f'<div class="pa-warn">{views.e(error_for_exception(exc).message)}</div>')
        return
    first_doc = doc_choices[0][1] if doc_choices else None
    first_program = by_doc[first_doc][0][1] if first_doc else None
    with gr.Row():
        doc = gr.Dropdown(doc_choices, value=first_doc, label="政策文件（按地区）", elem_id="pa-calc-doc", scale=3)
        program = gr.Dropdown(by_doc.get(first_doc, []), value=first_program, label="补助项目",
                              elem_id="pa-calc-program", scale=2)
    with gr.Accordion("基准日期（可选）", open=False):
        as_of = gr.Textbox(label="按此日期判断政策效力，如 2024-06-30；默认今天", elem_id="pa-calc-asof")

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
            asks = "".join(f'<div class="pa-warn pa-unit-ask">{views.e(q)}</div>'
                           for q in implausible_amounts(specs, list(values)))
            try:
                calc = services.calculate(program_id, collect_values(specs, list(values)), as_of=_parse_date(as_of_text))
                return asks + views.calculation_html(jsonable_encoder(calc))
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
        gr.HTML(f'<div class="pa-warn">{views.e(error_for_exception(exc).message)}</div>')
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
        as_of = gr.Textbox(label="基准日期（可选，如 2024-06-30）", scale=2, elem_id="pa-elig-asof")
        run = gr.Button("开始自查", variant="primary", scale=1, elem_id="pa-elig-run")
    result = gr.HTML(elem_id="pa-elig-result")
    download = gr.DownloadButton("下载 CSV", visible=False, elem_id="pa-elig-csv")

    def check(as_of_text, *values):
        asks = "".join(f'<div class="pa-warn pa-unit-ask">{views.e(q)}</div>'
                       for q in implausible_amounts(specs, list(values)))
        try:
            profile = collect_profile(specs, list(values))
            report = jsonable_encoder(services.eligibility(profile, as_of=_parse_date(as_of_text)))
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001
            return f'<div class="pa-warn">{views.e(error_for_exception(exc).message)}</div>', gr.update(visible=False)
        entered = _entered(specs, list(values))
        path = _write_csv(views.eligibility_csv(report, entered), views.eligibility_csv_name(report.get("as_of")))
        return asks + views.eligibility_html(report), gr.update(value=path, visible=True)

    run.click(check, [as_of, *components], [result, download])


def _entered(specs: list[FieldSpec], values: list[Any]) -> list[tuple[str, str]]:
    """The profile as the person entered it (shown label, value) for the CSV's first rows."""
    rows = []
    for spec, value in zip(specs, values):
        if value is None or value == "" or value == []:
            continue
        shown = "、".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        rows.append((spec.shown_label, shown))
    return rows


CSV_DIR_NAME = "policy-assistant-csv"
CSV_MAX_AGE_S = 3600


def _write_csv(text: str, name: str) -> str:
    """A download named after the check and its date (资格自查_2026-11-30.csv), in a folder of its own under our temp
    folder; downloads older than an hour are removed on each write."""
    import shutil

    base = Path(tempfile.gettempdir()) / CSV_DIR_NAME
    base.mkdir(mode=0o700, exist_ok=True)
    cutoff = time.time() - CSV_MAX_AGE_S
    for old in base.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
        except OSError:
            pass
    folder = Path(tempfile.mkdtemp(dir=base))
    path = folder / name
    path.write_text(text, encoding="utf-8-sig", newline="")
    return str(path)


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
    _relay_section(services)
    gr.Markdown("### 联系方式与申报时间")
    cards = gr.HTML(show_cards, elem_id="pa-doc-cards")

    query.change(do_search, [query, region, doc], [hits, snippet], trigger_mode="always_last", show_progress="hidden",
                 api_name="search")
    for control in (region, doc):
        control.change(do_search, [query, region, doc], [hits, snippet], trigger_mode="always_last")
        control.change(show_cards, [region, doc], cards)


def _relay_section(services) -> None:
    """来电问题速答: the operator types the caller's question, checks the facts read (each chip can be corrected, and
    the answer is recomputed by the calculator) and reads the answer out; the plain text is ready to paste."""
    from policy_assistant.conversations import ChatSession
    from ui.format import answer_plain_text

    gr.Markdown("### 来电问题速答")
    gr.Markdown("转述来电人的问题后，先核对“我读到的信息”（点击可修改或补充），再读出答复。", elem_classes="pa-muted")
    session = gr.State(None)
    last = gr.State(None)
    with gr.Row():
        relay = gr.Textbox(label="来电人的问题", placeholder="如：思明区企业，去年在平台上买算力花了80万，能补多少？", scale=5,
                           elem_id="pa-relay")
        run = gr.Button("读取并测算", variant="primary", scale=1, elem_id="pa-relay-run", min_width=120)
    with gr.Row():
        with gr.Column(scale=3):
            shown = gr.Markdown("", elem_id="pa-hotline-answer")
        with gr.Column(scale=2):
            copy = gr.Textbox(label="可读出 / 可复制的答复（纯文本）", lines=12, buttons=["copy"], interactive=False,
                              elem_id="pa-relay-copy")
    edit = gr.Textbox(label="更正的信息", show_label=False, container=False, elem_id="pa-hotline-fact-edit", elem_classes="pa-offscreen")
    apply = gr.Button("重新计算", elem_id="pa-hotline-fact-apply", elem_classes="pa-offscreen")

    def show(payload: dict[str, Any], warning: str = ""):
        warn = f'<div class="pa-warn">{views.e(warning)}</div>\n\n' if warning else ""
        return warn + answer_markdown(payload), answer_plain_text(payload)

    def ask(question):
        """Each relayed question is a new conversation (kept in memory unless corrected, like a one-off API chat)."""
        text = (question or "").strip()
        if not text:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            payload = services.chat(text, ChatSession(), "hotline")
        except Exception as exc:  # noqa: BLE001 - the operator sees a Chinese message, never a traceback
            return f'<div class="pa-warn">{views.e(error_for_exception(exc).message)}</div>', "", None, None
        page, plain = show(payload)
        return page, plain, payload.get("session_id"), payload

    def correct(edit_text, session_id, previous):
        """A fact chip corrected: the relayed question recomputed by the calculator with it."""
        if not session_id or not (edit_text or "").strip():
            return gr.skip(), gr.skip(), gr.skip(), ""
        try:
            data = json.loads(edit_text)
            override = {str(data["fact"]): data.get("value")}
        except (ValueError, KeyError, TypeError):
            return gr.skip(), gr.skip(), gr.skip(), ""
        try:
            payload = services.chat(None, ChatSession(id=session_id), "hotline", facts_override=_checked_override(override))
        except Exception as exc:  # noqa: BLE001 - refused: the last answer stays, with why above it
            message = exc.message if isinstance(exc, gr.Error) else error_for_exception(exc).message
            page, plain = show(previous or {}, message)
            return page, plain, previous, ""
        page, plain = show(payload)
        return page, plain, payload, ""

    gr.on([relay.submit, run.click], ask, relay, [shown, copy, session, last])
    apply.click(correct, [edit, session, last], [shown, copy, last, edit], show_progress="hidden")


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
