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


# Which module registers each command: a one-shot command imports only its own module to parse its arguments
# (importing all of them was a third of `ask`'s time). tests/test_perf_units.py keeps this in step with them.
COMMAND_OWNERS = {
    "programs": "tools.cli", "calc": "tools.cli", "rules": "tools.cli", "eligibility": "tools.cli",
    "docs": "corpus.cli", "index": "index.cli", "search": "index.cli", "ask": "agent.cli", "chat": "agent.cli",
    "serve": "ui.cli", "mcp": "ui.cli", "loadtest": "ui.cli", "conversations": "ui.cli", "eval": "evals.cli",
    "bench": "policy_assistant.bench",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of `command` alone when a module is known to register it."""
    parser = argparse.ArgumentParser(prog="policy-assistant", description="政策通：人工智能产业补助政策助手")
    sub = parser.add_subparsers(dest="command", metavar="命令")
    owner = COMMAND_OWNERS.get(command or "")
    for name in [owner] if owner else COMMAND_MODULES:
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
    given = sys.argv[1:] if argv is None else argv
    parser = build_parser(given[0] if given else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)
