"""`policy-assistant index build|status|bench` and `policy-assistant search`. Heavy imports happen in handlers."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys


def register(subparsers) -> None:
    index = subparsers.add_parser("index", help="构建/查看检索索引")
    index_sub = index.add_subparsers(dest="index_command", metavar="子命令")

    build = index_sub.add_parser("build", help="构建索引（增量：未变化的条款不重新计算向量）")
    build.add_argument("--force", action="store_true", help="即使语料未变化也重新构建")
    build.add_argument("--extra-corpus", metavar="DIR", help="额外的测试文件目录（documents.yaml + clean/*.txt），仅用于评测")
    build.add_argument("--quiet", action="store_true", help="不显示进度条")
    build.add_argument("--json", action="store_true", help="以 JSON 输出构建结果")
    build.set_defaults(func=_cmd_build)

    status = index_sub.add_parser("status", help="索引状态：条款数、嵌入模型、语料哈希、构建时间")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_cmd_status)

    bench = index_sub.add_parser("bench", help="检索性能基准（查询延迟、构建时间、1万/10万块规模曲线）")
    bench.add_argument("--sizes", default="10000,100000", help="复制语料到这些块数测延迟（逗号分隔，0 表示不测）")
    bench.add_argument("--repeat", type=int, default=3, help="每个查询重复次数")
    bench.add_argument("--skip-build", action="store_true", help="不测冷/增量构建时间")
    bench.set_defaults(func=_cmd_bench)

    index.set_defaults(func=lambda args: (index.print_help(), 2)[1])

    search = subparsers.add_parser(
        "search", help="检索政策条款（不带问题时从标准输入逐行读取问题，逐行输出 JSON）",
        description="检索政策条款。示例：policy-assistant search \"租GPU训练大模型能报销多少\" -k 5 --region 思明",
    )
    search.add_argument("query", nargs="?", help="问题；省略时从标准输入每行读一个问题，每行输出一个 JSON 对象")
    search.add_argument("-k", type=int, default=5, help="返回条款数（默认 5）")
    search.add_argument("--region", help="地区筛选，如 思明、厦门、泉州、安徽")
    search.add_argument("--doc", dest="doc_id", help="文件 id 筛选，如 xm-measures")
    search.add_argument("--level", choices=["province", "city", "district"], help="层级筛选")
    search.add_argument("--date", dest="in_force_on", type=dt.date.fromisoformat, help="只检索在该日期有效的文件（YYYY-MM-DD）")
    search.add_argument("--json", action="store_true", help="输出 JSON")
    search.set_defaults(func=_cmd_search)


def _settings():
    from policy_assistant.settings import Settings

    return Settings.from_env()


def _cmd_build(args) -> int:
    from index.build import build_index

    report = build_index(_settings(), extra_corpus_dir=args.extra_corpus, force=args.force,
                         progress=not args.quiet and sys.stderr.isatty())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return 0
    if report.replaced_corrupt:
        print(f"发现原索引已损坏（{'；'.join(report.replaced_corrupt[:3])}），已重新构建并替换。")
    if report.built:
        changed = "、".join(report.changed_docs) or "无"
        print(f"索引已构建：{report.chunks} 个条款块，新计算向量 {report.embedded} 个，复用缓存 {report.reused} 个，"
              f"用时 {report.seconds:.1f} 秒（变化的文件：{changed}）")
    else:
        print(f"索引已是最新（{report.chunks} 个条款块，语料哈希 {report.corpus_hash[:12]}），无需重建")
    return 0


def _cmd_status(args) -> int:
    from index.build import index_status

    status = index_status(_settings())
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0 if status.get("built") else 1
    if not status.get("built"):
        print(f"索引尚未构建（{status['index_dir']}）：请运行 policy-assistant index build")
        return 1
    if status.get("corrupt"):
        print(f"索引已损坏（{'；'.join(status['corrupt'][:3])}）：请运行 policy-assistant index build 重建")
        if "build_id" not in status:
            return 1
    stale = "是（请重新构建）" if status.get("corpus_changed") else "否"
    print("\n".join([
        f"索引目录：{status['index_dir']}",
        f"构建编号：{status['build_id']}（{status['built_at']}，用时 {status['build_seconds']} 秒）",
        f"文件 {status['documents']} 个，条款 {status['clauses']} 条，条款块 {status['chunks']} 个",
        f"嵌入模型：{status['embedder']}（{status['embedder_key']}，{status['dim']} 维）",
        f"向量库：Chroma {status['chroma_mode']}，集合 {status['collection']}",
        f"语料哈希：{status['corpus_hash']}",
        f"语料在构建后有变化：{stale}",
    ] + ([f"测试用附加文件：{'、'.join(status['extra_documents'])}"] if status.get("extra_documents") else [])))
    return 1 if status.get("corrupt") else 0


def _cmd_bench(args) -> int:
    from index.bench import run_search_bench

    sizes = [int(s) for s in args.sizes.split(",") if s.strip() and int(s) > 0]
    report = run_search_bench(_settings(), sizes=sizes, repeat=args.repeat, measure_build=not args.skip_build)
    print(report["markdown"])
    print(f"\n报告已写入：{report['paths']['json']}，{report['paths']['markdown']}")
    return 0


def _cmd_search(args) -> int:
    from index import open_retriever

    retriever = open_retriever(_settings())
    filters = {"region": args.region, "doc_id": args.doc_id, "level": args.level, "in_force_on": args.in_force_on}
    if args.query is None:
        return _search_stdin(retriever, args.k, filters)
    result = retriever.search(args.query, k=args.k, **filters)
    if args.json:
        print(json.dumps(_line(result), ensure_ascii=False))
        return 0
    _print_human(result)
    return 0


def _line(result) -> dict:
    """One JSON object per query: {"query", "hits": [{id, document, doc_number, clause, text, score}], ...}."""
    return {"query": result.query, "hits": [h.public_dict() for h in result.hits], "no_relevant": result.no_relevant}


def _search_stdin(retriever, k: int, filters: dict) -> int:
    for line in sys.stdin:
        query = line.strip()
        if not query:
            continue
        result = retriever.search(query, k=k, **filters)
        sys.stdout.write(json.dumps(_line(result), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def _print_human(result) -> None:
    if result.no_relevant:
        print(f"提示：{result.reason}以下为最接近的条款，仅供参考。\n")
    if not result.hits:
        print("没有检索到条款。")
        return
    for i, hit in enumerate(result.hits, start=1):
        number = f"（{hit.doc_number}）" if hit.doc_number else ""
        print(f"{i}. 《{hit.document}》{number} {hit.clause}  [{hit.id}，相关度 {hit.score:.2f}]")
        text = hit.text if len(hit.text) <= 400 else hit.text[:400] + "……"
        print("   " + text.replace("\n", "\n   "))
        print()


def main(argv: list[str] | None = None) -> int:  # for `python -m index.cli`
    parser = argparse.ArgumentParser(prog="index")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
