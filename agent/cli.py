"""`ask` (one question, or one per stdin line with --json) and `chat` (interactive) commands."""
from __future__ import annotations

import json
import logging
import sys


from policy_assistant.cli import as_of_date as _date


def register(sub) -> None:
    ask = sub.add_parser("ask", help="提问；--json 输出结构化结果，无问题参数时从标准输入逐行读取问题")
    ask.add_argument("question", nargs="?", help="问题（中文）")
    ask.add_argument("--session", help="会话ID：同一会话内地区、补助项目和已提供的信息会延续")
    ask.add_argument("--as-of", type=_date, help="以该日期判断有效期和申报窗口（默认今天）")
    ask.add_argument("--json", action="store_true", help="输出JSON（每个问题一行）")
    ask.set_defaults(func=cmd_ask)
    chat = sub.add_parser("chat", help="在终端中进行多轮对话")
    chat.add_argument("--as-of", type=_date)
    chat.set_defaults(func=cmd_chat)


def _services():
    from policy_assistant.services import Services
    from policy_assistant.settings import Settings

    return Services(Settings.from_env())


def _safe_ask(services, question: str, session_id: str | None, as_of):
    from index.build import IndexCorrupt
    from tools.schema import Answer

    try:
        return services.ask(question, session_id=session_id, as_of=as_of)
    except IndexCorrupt as exc:  # say what is damaged and how to repair it (`index build`), as the API does
        return Answer(question=question, answer=exc.message_zh, status="not_found", session_id=session_id or "",
                      error=exc.code)
    except Exception:  # never a traceback to the user
        logging.getLogger("policy_assistant.agent").exception("answer failed")
        return Answer(question=question, answer="抱歉，系统暂时无法回答这个问题，请稍后重试或换一种问法。",
                      status="not_found", session_id=session_id or "", error="internal_error")


def render_text(answer) -> str:
    """The facts read first (so a misread number shows before its amount), then the answer."""
    from agent.facts import facts_block_text

    block = facts_block_text(answer.facts_read)
    return "\n\n".join(p for p in (block, answer.answer) if p)


def cmd_ask(args) -> int:
    services = _services()
    if args.question is None:
        if not args.json:
            example = services.catalog.lexicon.words.examples.get("question", "补助最高能拿多少？")
            print(f"请提供问题，例如：policy-assistant ask \"{example}\"，或使用 --json 从标准输入逐行读取。", file=sys.stderr)
            return 2
        for line in sys.stdin:
            question = line.rstrip("\r\n")
            answer = _safe_ask(services, question, args.session, args.as_of)
            print(json.dumps(answer.contract_dict(), ensure_ascii=False), flush=True)
        return 0
    answer = _safe_ask(services, args.question, args.session, args.as_of)
    if args.json:
        print(json.dumps(answer.contract_dict(), ensure_ascii=False))
    else:
        print(render_text(answer))
    return 0


def cmd_chat(args) -> int:
    services = _services()
    session_id = None
    print("政策通 · 人工智能产业补助政策助手（输入“退出”结束）")
    while True:
        try:
            question = input("\n您：").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if question in {"退出", "exit", "quit", "q"}:
            return 0
        answer = _safe_ask(services, question, session_id, args.as_of)
        session_id = answer.session_id or session_id
        print("\n政策通：" + render_text(answer))
