"""`policy-assistant` command line. Each role registers its own subcommands; heavy imports happen in handlers."""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys


def as_of_date(value: str) -> dt.date:
    """argparse type for --as-of: an ISO date, with a Chinese message when it is not one."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD，例如 2026-11-22（收到：{value}）") from None

# Modules exposing `register(subparsers)`; each adds its subcommands with `set_defaults(func=...)`.
COMMAND_MODULES = [
    "tools.cli",      # programs, calc, eligibility, rules test
    "corpus.cli",     # docs add / review / check
    "index.cli",      # index build/status, search
    "agent.cli",      # ask, chat
    "ui.cli",         # serve
    "evals.cli",      # eval
    "policy_assistant.bench",  # bench
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policy-assistant", description="政策通：人工智能产业补助政策助手")
    sub = parser.add_subparsers(dest="command", metavar="命令")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)
