"""`policy-assistant serve` (web app + API + MCP + widget on one server), `mcp` (stdio), `loadtest`, and
`conversations purge|delete`."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="启动网页版、HTTP API 和嵌入式小助手（同一端口）")
    serve.add_argument("--host", default=None, help="监听地址（默认取设置，127.0.0.1）")
    serve.add_argument("--port", type=int, default=None, help="端口（默认取设置，7860；0 表示自动选择空闲端口）")
    serve.add_argument("--no-ui", action="store_true", help="只启动 HTTP API，不挂载 Gradio 网页")
    serve.add_argument("--access-log", action="store_true", help="输出每个请求的访问日志")
    serve.add_argument("--workers", type=_workers, default=1,
                       help="工作进程数（默认 1；多核机器可设为核数。会话保存在数据库中，任何进程都能接着回答）")
    serve.set_defaults(func=_serve)

    mcp = subparsers.add_parser("mcp", help="以 stdio 方式运行 MCP 服务（供桌面 MCP 客户端启动；HTTP 方式见 serve 的 /mcp）")
    mcp.set_defaults(func=_mcp)

    load = subparsers.add_parser("loadtest", help="对本机运行中的服务做问答压测（限时、限量）")
    load.add_argument("--url", default="http://127.0.0.1:7860", help="服务地址（仅限本机回环地址）")
    load.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50], help="并发客户端数，可给多个")
    load.add_argument("--duration", type=float, default=10.0, help="每档并发的最长秒数")
    load.add_argument("--max-requests", type=int, default=5000, help="每档并发的最多请求数")
    load.add_argument("--path", default="/api/chat", help="压测的接口路径")
    load.add_argument("--json", action="store_true", help="以 JSON 输出结果")
    load.set_defaults(func=_loadtest)

    conv = subparsers.add_parser("conversations", help="会话记录的保存期限与删除（个人信息保护）")
    conv_sub = conv.add_subparsers(dest="conversations_command", metavar="子命令")
    purge = conv_sub.add_parser("purge", help="删除超过保存期限的会话与评价（默认取 POLICY_RETENTION_DAYS）")
    purge.add_argument("--days", type=int, default=None, help="保存天数（覆盖设置；须大于 0）")
    purge.set_defaults(func=_purge)
    delete = conv_sub.add_parser("delete", help="删除一次对话的全部记录（含其评价）")
    delete.add_argument("session_id", help="会话 ID（回答中的 session_id）")
    delete.set_defaults(func=_delete)
    conv.set_defaults(func=lambda args: (conv.print_help(), 2)[1])


def _workers(value: str) -> int:
    """argparse type for --workers: 1 to 64, with a Chinese message otherwise."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"工作进程数应为 1 到 64 之间的整数（收到：{value}）")
    return n


def _serve(args: argparse.Namespace) -> int:
    from ui.server import serve

    return serve(host=args.host, port=args.port, ui=not args.no_ui, access_log=args.access_log, workers=args.workers)


def _mcp(args: argparse.Namespace) -> int:
    import os

    from policy_assistant.services import Services
    from policy_assistant.settings import Settings
    from ui.app import OFFLINE_ENV
    from ui.mcp_server import run_stdio

    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    settings = Settings.from_env()
    return run_stdio(Services(settings), settings)


def _loadtest(args: argparse.Namespace) -> int:
    import json

    from ui.loadtest import format_table, run

    results = run(args.url, concurrencies=args.concurrency, duration_s=args.duration,
                  max_requests=args.max_requests, path=args.path)
    print(json.dumps(results, ensure_ascii=False, indent=2) if args.json else format_table(results))
    return 0 if all(r["errors"] == 0 for r in results) else 1


def _purge(args: argparse.Namespace) -> int:
    from policy_assistant.services import Services

    services = Services()
    days = services.settings.retention_days if args.days is None else args.days
    if days <= 0:
        print("未设置保存期限（POLICY_RETENTION_DAYS=0 表示永久保存）：未删除任何记录。请用 --days N 指定天数。")
        return 2
    removed = services.purge(days=days)
    print(f"已删除 {days} 天前的记录：会话 {removed['conversations']} 个，问答 {removed['turns']} 条，"
          f"评价 {removed['feedback']} 条。")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from policy_assistant.services import Services

    if Services().store.delete_conversation(args.session_id):
        print("该对话的全部记录已删除。")
        return 0
    print("没有找到该会话（可能已删除或已过保存期限）。")
    return 1
