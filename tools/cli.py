"""`programs`, `calc` and `eligibility` commands: Chinese text or JSON out; bad input → Chinese message, exit 2."""
from __future__ import annotations

import datetime as dt
import json
import sys


from policy_assistant.cli import as_of_date as _date


def register(sub) -> None:
    programs = sub.add_parser("programs", help="列出全部补助项目（按文件分组）")
    programs.add_argument("--json", action="store_true", help="输出JSON")
    programs.set_defaults(func=cmd_programs)

    calc = sub.add_parser("calc", help="计算某个补助项目的资格和最高金额")
    calc.add_argument("program_id", help="项目编号（用 programs 命令查看全部编号）")
    calc.add_argument("--fact", action="append", default=[], metavar="名称=值",
                      help="事实，如 compute_purchase_yuan=80万；可重复")
    calc.add_argument("--as-of", type=_date, help="以该日期判断有效期和申报窗口（默认今天）")
    calc.add_argument("--json", action="store_true", help="输出JSON")
    calc.set_defaults(func=cmd_calc)

    rules = sub.add_parser("rules", help="补助规则：运行黄金测试用例（corpus/tests/*.yaml）")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="子命令")
    rtest = rules_sub.add_parser("test", help="按 corpus/tests/<文件>.yaml 的用例逐一核对计算结果（门槛与上限的 n−1、n、n+1）")
    rtest.add_argument("--doc", action="append", default=[], metavar="文件编号", help="只运行这些文件的用例；可重复")
    rtest.add_argument("--corpus-dir", metavar="DIR", help="语料目录（默认取设置，即项目的 corpus/）")
    rtest.add_argument("--extra", action="append", default=[], metavar="DIR", help="附加的语料目录（新文件所在）；可重复")
    rtest.add_argument("--json", action="store_true", help="输出JSON")
    rtest.set_defaults(func=cmd_rules_test)
    rules.set_defaults(func=lambda args: (rules.print_help(), 2)[1])

    elig = sub.add_parser("eligibility", help="按企业信息文件自查全部补助项目")
    elig.add_argument("--profile", required=True, help="企业信息YAML文件（示例见 corpus/examples/ 目录）")
    elig.add_argument("--as-of", type=_date, help="以该日期判断有效期和申报窗口（默认今天）")
    elig.add_argument("--json", action="store_true", help="输出JSON")
    elig.set_defaults(func=cmd_eligibility)


def _today(args) -> dt.date:
    if getattr(args, "as_of", None):
        return args.as_of
    from policy_assistant.settings import Settings

    return Settings.from_env().today()


def _fail(message: str) -> int:
    print(f"错误：{message}", file=sys.stderr)
    return 2


def _dump(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def cmd_programs(args) -> int:
    from tools.errors import PolicyError

    try:
        catalog = load_catalog(args)
        rows = catalog.program_summaries()
    except PolicyError as exc:
        return _fail(exc.message_zh)
    if args.json:
        _dump(rows)
        return 0
    current = None
    for row in rows:
        if row["doc_id"] != current:
            current = row["doc_id"]
            doc = catalog.document(current)
            number = f"，{doc.doc_number}" if doc.doc_number else ""
            print(f"\n【{doc.title}】（{doc.region}，{row['level_zh']}{number}）")
        kind = {"award": "", "loan": "（贷款额度）", "none": "（文件未规定金额）"}[row["amount_kind"]]
        form = f"，{row['payment_form']}" if row["payment_form"] else ""
        print(f"  {row['id']:<28} {row['name']}{kind}  受益：{row['beneficiary']}，{row['period']}{form}")
    print(f"\n共{len(rows)}个项目。用 `policy-assistant calc 项目编号 --fact 名称=值` 计算。")
    return 0


def _parse_facts(pairs: list[str]) -> dict[str, str]:
    from tools.errors import InvalidInputError

    facts: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InvalidInputError(f"事实应写成“名称=值”，例如 compute_purchase_yuan=80万（收到：{pair}）。")
        name, value = pair.split("=", 1)
        facts[name.strip()] = value.strip()
    return facts


def _print_calc(calc) -> None:
    from tools.money import format_yuan

    verdict = {True: "符合条件", False: "不符合条件", None: "信息不足，暂无法判断"}[calc.eligible]
    print(f"{calc.program}（{calc.program_id}）")
    print(f"结论：{verdict}")
    if calc.amount_yuan is not None and calc.eligible:
        word = "贷款额度最高" if calc.amount_kind == "loan" else "最高可获得"
        print(f"{word}：{format_yuan(calc.amount_yuan)}（受益主体：{calc.beneficiary}"
              + (f"，{calc.payment_form}" if calc.payment_form else "") + "）")
    print("计算过程：")
    for step in calc.steps:
        print(f"  - {step}")
    notes = [n for n in calc.notes if not (calc.validity and n.startswith(calc.validity.message))]
    for title, lines in (("未满足的条件", calc.unmet), ("还需要提供", calc.missing), ("假设与口径", calc.assumptions),
                         ("说明", notes), ("申报材料", calc.materials)):
        if lines:
            print(f"{title}：")
            for line in lines:
                print(f"  - {line}")
    if calc.application:
        print(f"申报方式：{calc.application}")
    if calc.validity:
        print(f"有效期：{calc.validity.message}")
    print("依据：")
    for c in calc.citations:
        number = f"（{c.doc_number}）" if c.doc_number else ""
        print(f"  - 《{c.document}》{number} {c.clause}")


def cmd_calc(args) -> int:
    from tools.calculator import calculate
    from tools.errors import PolicyError

    try:
        facts = _parse_facts(args.fact)
        calc = calculate(args.program_id, facts, _today(args), load_catalog(args))
    except PolicyError as exc:
        return _fail(exc.message_zh)
    if args.json:
        _dump(calc.model_dump(mode="json"))
    else:
        _print_calc(calc)
    return 0


def cmd_eligibility(args) -> int:
    from tools.eligibility import check_eligibility, load_profile
    from tools.errors import PolicyError
    from tools.money import format_yuan

    try:
        report = check_eligibility(load_profile(args.profile), _today(args), load_catalog(args))
    except PolicyError as exc:
        return _fail(exc.message_zh)
    if args.json:
        _dump(report.model_dump(mode="json"))
        return 0
    print(f"{report.profile_name or '企业'}（{report.location}），截至{report.as_of.isoformat()}")
    print(report.summary)
    for status, title in (("eligible", "符合条件"), ("needs_info", "需要补充信息"), ("not_eligible", "不符合条件")):
        items = report.by_status(status)
        if not items:
            continue
        print(f"\n== {title}（{len(items)}） ==")
        for i in items:
            if i.amount_yuan is not None:
                word = "贷款额度最高" if i.amount_kind == "loan" else "最高"
                amount = f"{word}{format_yuan(i.amount_yuan)}"
            elif i.potential_amount_yuan is not None:
                amount = f"若符合条件最高{format_yuan(i.potential_amount_yuan)}"
            elif i.amount_kind == "none":
                amount = "文件未规定金额"
            else:
                amount = ""
            window = "（申报已截止）" if i.window_open is False else ("（文件已失效）" if i.validity_status == "expired" else "")
            print(f"  {i.program_id:<28} {i.program}  {amount}{window}")
            for r in i.reasons[:2]:
                print(f"      原因：{r}")
            if i.ask:
                print(f"      需提供：{'；'.join(i.ask)}")
    if report.stacking:
        print("\n== 叠加与互斥规则 ==")
        for s in report.stacking:
            print(f"  - {s.text}")
    return 0


def load_catalog(args):
    """The catalog of the settings' corpus folders, or of the folders given on the command line."""
    from policy_assistant.settings import Settings
    from tools.catalog import PolicyCatalog

    settings = Settings.from_env()
    corpus_dir = getattr(args, "corpus_dir", None) or settings.corpus_dir
    extra = [*settings.extra_corpus_dirs, *getattr(args, "extra", [])]
    return PolicyCatalog.load(corpus_dir, extra)


def cmd_rules_test(args) -> int:
    from tools.errors import PolicyError
    from tools.goldens import run_goldens, summary_zh

    try:
        results = run_goldens(load_catalog(args))
    except PolicyError as exc:
        return _fail(exc.message_zh)
    if args.doc:
        results = [r for r in results if r.doc_id in args.doc]
    failed = [r for r in results if not r.ok]
    if args.json:
        _dump({"cases": len(results), "failed": len(failed),
               "by_doc": {d: sum(1 for r in results if r.doc_id == d) for d in dict.fromkeys(r.doc_id for r in results)},
               "failures": [{"doc_id": r.doc_id, "id": r.case.id, "program": r.case.program, "problems": r.problems}
                            for r in failed]})
    else:
        print("\n".join(summary_zh(results)))
        print(f"共 {len(results)} 例，" + ("全部通过。" if not failed else f"{len(failed)} 例未通过。"))
    return 1 if failed or not results else 0
