"""`policy-assistant bench`: the performance benchmark.

The headline (policy_assistant/bench/headline.py, table.py): never-seen questions through a real server as the
headline, the repeated mix beside them, the hello-world FastAPI ceiling in the same run, in-process uncached and
cached answer latency, first answer after readiness, one-shot commands, the vector store, memory per worker —
today's figures beside the new ones with their ratios. `--detail` adds the older per-phase benchmark
(policy_assistant/bench/detail.py: index build times, warm search/answer latency, a scale curve).
Results go to bench/report/ (git-ignored); `--readme` regenerates README's performance section.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from policy_assistant.settings import REPO_ROOT

BENCH_DIR = REPO_ROOT / "bench" / "report"


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="性能基准：未见过的问题压测（含 hello-world 天花板）、时延、一次性命令、内存，与今天的数字并排",
                              description="一次运行并排测量：未见过的问题与重复问题的 /api/chat 吞吐（1/10/50 并发，同次运行的 "
                                          "hello-world FastAPI 为天花板）、进程内未缓存/已缓存时延、就绪后首个回答、一次性 ask、"
                                          "向量检索、每个工作进程内存；与今天（改动前）的数字并排给出比值。结果写入 bench/report/")
    p.add_argument("--out", type=Path, default=BENCH_DIR, help="输出目录（默认 bench/report）")
    p.add_argument("--workers", type=int, default=2, help="服务工作进程数（默认 2）")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50], help="并发客户端数")
    p.add_argument("--duration", type=float, default=4.0, help="每档并发每轮的压测秒数（默认 4）")
    p.add_argument("--rounds", type=int, default=3, help="交替测量的轮数，取中位数（默认 3）")
    p.add_argument("--probe-questions", type=int, default=150, help="进程内时延每轮的问题数（默认 150）")
    p.add_argument("--oneshot-runs", type=int, default=5, help="一次性 ask 每种的次数（默认 5）")
    p.add_argument("--baseline-tree", type=Path, default=None,
                   help="今天（改动前）的代码目录：同一次运行中交替实测；不给则用记录值 policy_assistant/bench/baseline.json")
    p.add_argument("--baseline-data", type=Path, default=None, help="该代码目录的数据目录（默认 <目录>/data，须已建索引）")
    p.add_argument("--baseline-workers", type=int, default=None,
                   help="今天的服务工作进程数（默认：该代码的 serve 支持 --workers 时与 --workers 相同，否则 1）")
    p.add_argument("--record-baseline", metavar="COMMIT", default=None,
                   help="把 --baseline-tree 的实测结果写成记录值（注明该提交）")
    p.add_argument("--quality", action="store_true", help="同时给出冻结测试集的检索质量")
    p.add_argument("--readme", action="store_true", help="用本次结果重写 README 的性能部分")
    p.add_argument("--detail", action="store_true", help="另跑分阶段基准（索引构建、热检索/问答时延等，较慢）")
    p.add_argument("--quick", action="store_true", help="快速模式：1 轮、每档 2 秒、更少问题")
    p.add_argument("--reliability", action="store_true",
                   help="改为运行可靠性与安全套件（坏输入、限流、密钥、会话隔离、慢连接、kill -9、损坏恢复），输出 reliability.md")
    p.add_argument("--against", type=Path, default=None,
                   help="（--reliability）用另一份源码目录启动被测服务，例如旧版本的导出，用于测量“修复前”")
    p.add_argument("--before", type=Path, default=None,
                   help="（--reliability）旧版本的 reliability.json，报告中并排给出修复前后的数字")
    p.set_defaults(func=_run)


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _run(args: argparse.Namespace) -> int:
    from policy_assistant.bench import headline, table
    from policy_assistant.settings import Settings

    if args.reliability:
        from policy_assistant.bench.detail import _run_reliability

        return _run_reliability(args)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    settings = Settings.from_env()
    rounds, duration, probe_q, shots = args.rounds, args.duration, args.probe_questions, args.oneshot_runs
    if args.quick:
        rounds, duration, probe_q, shots = 1, min(duration, 2.0), min(probe_q, 60), min(shots, 2)
    if args.record_baseline and args.baseline_tree is None:
        print("--record-baseline 需要 --baseline-tree", file=sys.stderr)
        return 2
    data = headline.run_headline(settings, baseline_tree=args.baseline_tree, baseline_data=args.baseline_data,
                                 workers=args.workers, baseline_workers=args.baseline_workers, levels=args.concurrency, duration_s=duration, rounds=rounds,
                                 probe_questions=probe_q, oneshot_runs=shots, quality=args.quality, log=log)
    data["meta"]["commit"] = _git_commit()
    if args.baseline_tree is not None:
        data["meta"]["baseline_commit"] = args.record_baseline or str(args.baseline_tree)
    md = table.render(data)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (args.out / "bench.md").write_text("# 政策通 性能基准\n\n" + md, encoding="utf-8")
    if args.record_baseline:
        record = headline.record_baseline(data, commit=args.record_baseline,
                                          note=f"--baseline-tree 实测，负载 {data['meta'].get('load_before')}")
        headline.BASELINE_FILE.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        log(f"记录值已写入 {headline.BASELINE_FILE}")
    if args.readme:
        if table.update_readme(REPO_ROOT / "README.md", md):
            log("README 性能部分已更新")
        else:
            log(f"README 中没有 {table.README_START} / {table.README_END} 标记，未更新")
    if args.detail:
        from policy_assistant.bench.detail import render_markdown, run_bench

        detail = run_bench(settings=settings, out_dir=args.out, log=log)
        print(render_markdown(detail))
    print(md)
    print(f"结果：{args.out / 'bench.json'}  {args.out / 'bench.md'}")
    errors = sum(v.get("errors", 0) for kind in data["figures"]["new"].get("load", {}).values() for v in kind.values())
    return 1 if errors else 0
