"""`policy-assistant docs add|review|check`: add a policy notice as data, review its drafted rules, check it all.

Thin handlers: parse → one call into corpus/authoring.py → print a Chinese summary. Bad input gets a Chinese
message and exit code 2; a failed check exits 1.
"""
from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    docs = sub.add_parser("docs", help="政策文件：新增（add）、审核草稿规则（review）、全面检查（check）")
    docs_sub = docs.add_subparsers(dest="docs_command", metavar="子命令")

    add = docs_sub.add_parser("add", help="新增一份政策文件：记录清洗修改、展示条款切分、写入文件信息、按金额表述起草规则（草稿）",
                              description="示例：policy-assistant docs add 通知.txt --id lh-measures --region 澜河市 "
                                          "--region-path 云岭省,澜河市")
    add.add_argument("file", help="文件原文（UTF-8 文本，由 PDF/Word/网页转换而来）")
    add.add_argument("--id", required=True, dest="doc_id", help="文件编号：小写字母、数字和连字符，如 lh-measures")
    add.add_argument("--region", help="适用地区，如 厦门市、思明区、安徽省（缺省时交互询问）")
    add.add_argument("--region-path", help="地区层级，逗号分隔，如 福建省,厦门市,思明区")
    add.add_argument("--level", choices=["province", "city", "district"], help="文件层级（缺省按地区名推断）")
    add.add_argument("--parent", help="新地区的上级地区（已有地区的名称或编号），如 厦门市")
    add.add_argument("--region-key", help="新地区的编号（缺省取文件编号的第一段）")
    add.add_argument("--alias", action="append", default=[], help="新地区的其他叫法；可重复")
    add.add_argument("--title", help="文件标题（缺省取正文第一行）")
    add.add_argument("--short-title", help="简称")
    add.add_argument("--issuer", help="发文单位（缺省取落款或标题）")
    add.add_argument("--doc-number", help="文号，如 厦府办规〔2023〕10号（缺省从正文开头识别）")
    add.add_argument("--channel", help="申报渠道（文件写明时填写）")
    add.add_argument("--title-delims", help="条目标题结束的标点，如 。 或 ：（标题与正文写在同一行时使用）")
    add.add_argument("--corpus-dir", help="写入的语料目录（缺省为设置中的 corpus/；测试时可写入临时目录）")
    add.add_argument("--extra", action="append", default=[], metavar="DIR", help="同时加载的其他语料目录；可重复")
    add.add_argument("--force", action="store_true", help="覆盖已存在的规则草稿文件")
    add.add_argument("--yes", action="store_true", help="不交互：缺少的信息直接报错")
    add.set_defaults(func=cmd_add)

    review = docs_sub.add_parser("review", help="把核对无误的草稿项目标记为已审核（之后才会用于回答）")
    review.add_argument("doc_id", help="文件编号")
    review.add_argument("--program", action="append", default=[], help="只审核这些项目；缺省为该文件全部草稿")
    review.add_argument("--corpus-dir", help="语料目录（缺省取设置）")
    review.add_argument("--extra", action="append", default=[], metavar="DIR", help="其他语料目录；可重复")
    review.set_defaults(func=cmd_review)

    check = docs_sub.add_parser("check", help="全面检查：格式、条款引用、原文短语、日期与原文、清洗记录、草稿、黄金用例、索引")
    check.add_argument("--corpus-dir", help="语料目录（缺省取设置）")
    check.add_argument("--extra", action="append", default=[], metavar="DIR", help="其他语料目录；可重复")
    check.set_defaults(func=cmd_check)
    docs.set_defaults(func=lambda args: (docs.print_help(), 2)[1])


def _dirs(args):
    from policy_assistant.settings import Settings

    settings = Settings.from_env()
    corpus_dir = Path(args.corpus_dir) if getattr(args, "corpus_dir", None) and args.docs_command != "add" \
        else settings.corpus_dir
    extras = [Path(d) for d in [*settings.extra_corpus_dirs, *args.extra]]
    return settings, Path(corpus_dir), extras


def _fail(message: str) -> int:
    print(f"错误：{message}", file=sys.stderr)
    return 2


def _ask(prompt: str, args) -> str | None:
    if args.yes or not sys.stdin.isatty():
        return None
    try:
        return input(prompt).strip() or None
    except EOFError:
        return None


def cmd_add(args) -> int:
    from corpus.authoring import add_notice
    from tools.errors import PolicyError

    settings, corpus_dir, extras = _dirs(args)
    target = Path(args.corpus_dir) if args.corpus_dir else corpus_dir
    region = args.region or _ask("文件适用的地区（如 厦门市、思明区、安徽省）：", args)
    if not region:
        return _fail("请用 --region 指定文件适用的地区（如 厦门市、思明区、安徽省）。")
    path = args.region_path or _ask("地区层级，逗号分隔（如 福建省,厦门市；直接回车则自动判断）：", args)
    meta = {"region": region, "region_path": [p.strip() for p in path.replace("，", ",").split(",") if p.strip()] if path else None,
            "level": args.level, "parent": args.parent, "region_key": args.region_key, "aliases": args.alias,
            "title": args.title, "short_title": args.short_title, "issuer": args.issuer, "doc_number": args.doc_number,
            "channel": args.channel}
    style = {"title_delims": args.title_delims} if args.title_delims else None
    try:
        result = add_notice(Path(args.file), args.doc_id, corpus_dir=corpus_dir, extra_dirs=extras, target=target,
                            meta=meta, parse_style=style, force=args.force)
    except PolicyError as exc:
        return _fail(exc.message_zh)
    print(render_add(result))
    served = [corpus_dir.resolve(), *(d.resolve() for d in settings.extra_corpus_dirs)]
    if target.resolve() not in served:
        print(f"\n提示：{target} 不在设置的语料目录中；要让服务使用它，请设置 POLICY_EXTRA_CORPUS_DIRS={target}"
              "（多个目录用逗号分隔），之后的 docs review/check 加 --extra 同一目录。")
    return 0


def render_add(r) -> str:
    """The review sheet `docs add` prints: repairs, clause parse, dates with their phrases, drafts, files."""
    from corpus.models import DATE_ROLE_ZH
    from tools.money import format_yuan

    out = [f"已新增文件 {r.doc_id}：《{r.entry['title']}》（{r.entry['region']}，{r.region_note}）", "",
           f"一、清洗修改（{len(r.repairs)} 项，已记录在 documents.yaml 的 repairs 中，可由原文重建）："]
    out += [f"  {i}. [{rep.kind}] {rep.reason}（{rep.count} 处）" for i, rep in enumerate(r.repairs, 1)] or ["  无"]
    out += ["", f"二、条款切分（{len(r.clauses)} 条，请核对编号与标题）："]
    for c in r.clauses:
        first = c.text.replace("\n", " ")
        out.append(f"  {c.id:<24} {' > '.join(c.labels):<20} {first[:36]}{'…' if len(first) > 36 else ''}")
    out += ["", "三、文件写明的日期（只有原文写明的日期才会出现在回答中）："]
    dates = r.entry.get("dates") or {}
    for role, d in dates.items():
        when = f"{d['date'].year}年{d['date'].month}月{d['date'].day}日" + (f" {d['time']}" if d.get("time") else "")
        out.append(f"  {DATE_ROLE_ZH[role]}：{when} ← 原文“{d['phrase'].replace(chr(10), ' ')}”（{d['clause_id']}）"
                   + (f"；{d['reading']}" if d.get("reading") else ""))
    if "in_force_from" not in dates and "in_force_to" not in dates:
        out.append("  文件未写明有效期：回答会说“未规定有效期”。")
    for rep in r.entry.get("supersedes", []):
        out.append(f"  修订：自{rep['from']}起替代 {rep['doc_id']} ← 原文“{rep['phrase']}”")
    for rep in r.entry.get("repeals", []):
        out.append(f"  废止：自{rep['from']}起废止 {rep['doc_id']} ← 原文“{rep['phrase']}”")
    out += ["", f"四、按金额表述起草的补助项目（{len(r.programs)} 个，status: draft，审核前不会用于回答）："]
    for p in r.programs:
        f = p["formula"]
        conds = "；".join(c["description"] for c in p["conditions"]) or "无"
        if f["kind"] == "ratio_cap":
            how = f"× {f['rate']}" + (f"，最高{format_yuan(f['cap_yuan'])}" if f.get("cap_yuan") else "")
        elif f["kind"] == "step":
            s = f["step"]
            how = f"每满{format_yuan(s['step_yuan'])}给予{format_yuan(s['award_per_step_yuan'])}" + \
                (f"，最高{format_yuan(s['cap_yuan'])}" if s.get("cap_yuan") else "")
        elif f["kind"] == "fixed_by_choice":
            how = "、".join(f"{k} {format_yuan(v)}" for k, v in f["amounts"].items())
        else:
            how = format_yuan(f["amount_yuan"]) if "amount_yuan" in f else f["kind"]
        out.append(f"  {p['id']}（{p['clause_ids'][0]}）{p['name']}：条件 {conds}；金额 {how}")
    if r.facts:
        out.append("  新事实：" + "、".join(f"{f['name']}（{f['label']}）" for f in r.facts))
    if r.notes:
        out += ["", "五、请留意："] + [f"  - {n}" for n in r.notes]
    out += ["", "已写入：" + "、".join(str(p) for p in r.written), "",
            "下一步：1) 对照原文核对 rules/%s.yaml，补充别名和提问用词；2) policy-assistant docs review %s；" % (r.doc_id, r.doc_id),
            "        3) 在 tests/%s.yaml 写黄金用例；4) policy-assistant docs check；5) policy-assistant index build" % r.doc_id]
    return "\n".join(out)


def cmd_review(args) -> int:
    from corpus.authoring import review_programs
    from tools.errors import PolicyError

    _, corpus_dir, extras = _dirs(args)
    try:
        done = review_programs(args.doc_id, args.program, corpus_dir=corpus_dir, extra_dirs=extras)
    except PolicyError as exc:
        return _fail(exc.message_zh)
    print(f"已审核 {len(done)} 个项目：{'、'.join(done)}。这些项目现在会用于回答。")
    print(f"建议：在 tests/{args.doc_id}.yaml 为每个门槛和上限写 n−1、n、n+1 黄金用例，然后运行 policy-assistant docs check。")
    return 0


def cmd_check(args) -> int:
    from corpus.authoring import check_corpus

    settings, corpus_dir, extras = _dirs(args)
    settings = settings.model_copy(update={"corpus_dir": corpus_dir, "extra_corpus_dirs": extras})
    report = check_corpus(corpus_dir, extras, settings)
    for line in report.lines:
        print(line)
    for w in report.warnings:
        print(f"提示：{w}")
    for e in report.errors:
        print(f"错误：{e}")
    print("检查通过。" if report.ok else f"检查未通过：{len(report.errors)} 个错误。")
    return 0 if report.ok else 1
