"""Request and response models of the HTTP API and the MCP tools, with Chinese descriptions and examples.

Requests are validated with these models. HTTP responses are documented with them (OpenAPI `responses=`) but not
filtered through them, so a field the tools add later still reaches clients; `tests/test_api_schemas.py` checks
real responses against these models, so drift fails a test instead of a request. The MCP tools build their results
from the same models (unknown fields are dropped there: an MCP output schema is a published contract).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator
from pydantic_core import PydanticCustomError

SESSION_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_OVERRIDES = 40  # facts corrected in one request (a program needs a handful)
MAX_TURN_ID = 2**63 - 1  # SQLite's integer range: a larger id is a 422, not an overflow

EXAMPLE_FACTS = {"compute_purchase_yuan": "80万"}
EXAMPLE_PROFILE = {
    "name": "厦门某智能科技有限公司",
    "location": {"province": "福建省", "city": "厦门市", "district": "思明区"},
    "legal_person": True,
    "facts": {"compute_purchase_yuan": "80万", "corpus_purchase_yuan": "30万"},
}
EXAMPLE_CITATION = {
    "id": "xm-measures:1.3", "document": "厦门市促进人工智能产业发展若干措施", "doc_number": "厦府办规〔2023〕10号",
    "clause": "一、强化算力供给 > （三）推广普惠算力服务",
    "text": "……对年度购买总额达到30万元以上的，每年均按实际支出费用最高50%给予补助，每家企业每年最高不超过50万元。",
}


class _Out(BaseModel):
    """A documented result; fields it does not name are dropped when a result is built from it."""

    model_config = ConfigDict(extra="ignore")


# --- requests -----------------------------------------------------------------------------------------------
class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"question": "厦门企业去年购买算力花了80万元，最高能补多少？"},
        {"question": "那如果是120万呢？", "session_id": "Vq3xW0c9JkZ2mHq8RrT1uY4e", "stream": True},
        {"session_id": "Vq3xW0c9JkZ2mHq8RrT1uY4e", "facts_override": {"compute_purchase_yuan": "120万"}}]})

    question: StrictStr | None = Field(default=None, description="用户的问题（中文），最长 2000 字；只用 facts_override 更正上一轮时可不填",
                                       examples=["厦门企业去年购买算力花了80万元，最高能补多少？"])
    session_id: str | None = Field(default=None, pattern=SESSION_PATTERN,
                                   description="多轮对话的会话 ID：留空开始新对话；填上一轮回答中的 session_id 继续对话"
                                               "（必须是服务端签发的 ID，否则返回 404）")
    as_of: dt.date | None = Field(default=None, description="按此日期（YYYY-MM-DD）判断政策效力与申报期，默认今天")
    stream: StrictBool = Field(default=False, description="true 时以 Server-Sent Events 返回：若干 token 事件，最后一个 answer 事件")
    facts_override: dict[str, Any] | None = Field(
        default=None, examples=[{"compute_purchase_yuan": "120万"}],
        description="更正读到的信息后重新计算（确定性计算器，不经大模型）：键为事实名（见回答的 facts_read），值为更正后的值"
                    "（如 \"120万\"、\"是\"、\"三级\"，多选项为字符串列表），null 表示删除该信息。不填 question 时按本会话"
                    "上一个问题重新计算（须带服务端签发的 session_id）；同时填 question 时按该问题和更正后的信息计算。"
                    f"最多 {MAX_OVERRIDES} 项。取值无法识别时返回 422 中文说明")

    @field_validator("facts_override")
    @classmethod
    def _plain_overrides(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """Fact names and values as a person types them, nothing else: text, a number, true/false, a list of choice
        keys, or null. Whether a value reads as the fact's unit is the agent's (a Chinese 422 naming the fact)."""
        if value is None:
            return None
        if len(value) > MAX_OVERRIDES:
            raise PydanticCustomError("zh_invalid", f"“更正的信息”最多 {MAX_OVERRIDES} 项（收到 {len(value)} 项）")
        for name, item in value.items():
            if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
                raise PydanticCustomError("zh_invalid", f"“更正的信息”中的事实名“{name[:64]}”格式不正确"
                                                        "（应为回答的 facts_read 中的 fact，如 compute_purchase_yuan）")
            if item is None or isinstance(item, bool) or (isinstance(item, (int, float)) and math.isfinite(item)):
                continue
            if isinstance(item, str) and len(item) <= 200:
                continue
            if isinstance(item, list) and len(item) <= 32 and all(isinstance(x, str) and len(x) <= 64 for x in item):
                continue
            raise PydanticCustomError("zh_invalid", f"“更正的信息”中“{name}”的取值应为文字、数字、true/false、"
                                                    "选项列表或 null")
        return value


class CalculateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"program_id": "xm-compute-voucher", "facts": EXAMPLE_FACTS},
        {"program_id": "sm-digital-transform", "facts": {"digital_level": "三级", "digital_investment_yuan": "500万"},
         "as_of": "2025-06-30"}]})

    program_id: StrictStr = Field(min_length=1, max_length=64, examples=["xm-compute-voucher"],
                            description="补助项目编号，如 xm-compute-voucher（厦门算力券）；全部编号见 GET /api/programs")
    facts: dict[str, Any] = Field(default_factory=dict, examples=[EXAMPLE_FACTS],
                                  description="企业事实：键为事实名（见 GET /api/programs/{program_id}/inputs），值可为用户原话，"
                                              "如 \"80万\"、\"1.5亿\"、\"是\"、\"三级\"；缺少的事实会在结果的 missing 中列出")
    as_of: dt.date | None = Field(default=None, description="按此日期（YYYY-MM-DD）判断政策效力，默认今天")


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    province: str | None = Field(default=None, description="所在省份，如 福建省")
    city: str | None = Field(default=None, description="所在城市，如 厦门市")
    district: str | None = Field(default=None, description="所在区（县），如 思明区")


class Profile(BaseModel):
    """The enterprise profile of POST /api/eligibility (the same shape `tools.eligibility.Profile` validates)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "description": "企业情况：所在地、申请主体、是否独立法人、行业、是否规上，以及其他事实", "examples": [EXAMPLE_PROFILE]})

    name: str = Field(default="", description="企业名称（可选）")
    location: Location = Field(default_factory=Location, description="企业所在地")
    applicant_type: Literal["企业", "市政府", "个人"] = Field(default="企业", description="申请主体")
    legal_person: bool | None = Field(default=None, description="是否具有独立法人资格；不清楚可不填")
    industry: str | None = Field(default=None, description="所属行业，如 软件")
    above_scale: bool | None = Field(default=None, description="是否规模以上企业（规上）；不清楚可不填")
    facts: dict[str, Any] = Field(default_factory=dict, examples=[EXAMPLE_PROFILE["facts"]],
                                  description="其他事实：键为事实名（见 GET /api/programs/{program_id}/inputs），值可为用户原话")


class EligibilityRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"profile": EXAMPLE_PROFILE}]})

    profile: Profile = Field(default_factory=Profile, description="企业情况；不清楚的项可不填，结果会列出还需补充的信息")
    as_of: dt.date | None = Field(default=None, description="按此日期（YYYY-MM-DD）判断政策效力与申报期，默认今天")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"rating": "up", "session_id": "3f2a9c1e", "turn_id": 12, "comment": "回答清楚"}]})

    rating: Literal["up", "down", 1, -1] = Field(description="up 或 1 表示有帮助，down 或 -1 表示没帮助")
    session_id: str | None = Field(default=None, pattern=SESSION_PATTERN, description="被评价回答所在的会话 ID")
    turn_id: int | None = Field(default=None, ge=1, le=MAX_TURN_ID, description="被评价回答的编号（问答接口返回的 turn_id）")
    comment: StrictStr = Field(default="", max_length=2000, description="意见（可选）")
    question: StrictStr = Field(default="", max_length=10000, description="被评价的问题（可选，未给 turn_id 时记录用）")
    answer: StrictStr = Field(default="", max_length=20000, description="被评价的回答（可选，未给 turn_id 时记录用）")


# --- pieces of results --------------------------------------------------------------------------------------
class Citation(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [EXAMPLE_CITATION]})

    id: str = Field(description="条款编号，如 xm-measures:1.3")
    document: str = Field(description="政策文件标题")
    doc_number: str = Field(description="文号；文件未标注文号时为空字符串")
    clause: str = Field(description="条款位置（章节 > 条目），如 一、强化算力供给 > （三）推广普惠算力服务")
    text: str = Field(description="条款原文（逐字）")


class Validity(_Out):
    document: str = Field(description="政策文件标题")
    doc_id: str | None = Field(default=None, description="文件编号")
    status: Literal["in_force", "expired", "not_yet", "unstated"] = Field(
        description="基准日期时的效力：有效 / 已失效（含已被修订或废止）/ 尚未生效 / 文件未规定有效期（申报通知）")
    effective_from: dt.date | None = Field(default=None, description="文件写明的施行日期；未写明时为空")
    effective_to: dt.date | None = Field(default=None, description="文件写明的有效期截止日；未写明时为空")
    window_open: bool | None = Field(default=None, description="基准日期是否在申报期内；文件未规定申报期时为空")
    window_closes: dt.date | None = Field(default=None, description="申报截止日期")
    window_closes_time: str | None = Field(default=None, description="申报截止时刻（如 17:00），文件写明时才有")
    replaced_by: str | None = Field(default=None, description="修订或废止本文件的文件编号（基准日期已生效时）")
    replaced_from: dt.date | None = Field(default=None, description="修订或废止的生效日期")
    replaced_kind: Literal["supersede", "repeal"] | None = Field(default=None, description="supersede 修订 / repeal 废止")
    message: str | None = Field(default=None, description="效力与申报期说明（中文）")
    expiring_soon: bool = Field(default=False, description="仍有效但60天内到期（即将到期）")


class Calculation(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "program_id": "xm-compute-voucher", "program": "厦门市算力券", "eligible": True, "amount_yuan": 400000,
        "steps": ["计算公式：年度购买算力服务总额 × 50%，最高不超过50万元。", "80万元 × 50% = 40万元，未超过上限50万元",
                  "结论：最高可获得40万元（政策上限，实际金额以主管部门审核为准）。"],
        "missing": [], "unmet": [], "assumptions": ["“达到30万元以上”含30万元本数（以上包括本数）。"],
        "citations": [EXAMPLE_CITATION]}]})

    program_id: str = Field(description="补助项目编号")
    program: str = Field(description="补助项目名称")
    eligible: bool | None = Field(description="按已知条件是否符合：true 符合，false 不符合，null 需补充信息")
    amount_yuan: int | None = Field(description="最高可获得金额（整数元，政策上限，以审核为准）；无法计算时为空")
    steps: list[str] = Field(default_factory=list, description="计算步骤（中文）")
    missing: list[str] = Field(default_factory=list, description="还需提供的信息")
    unmet: list[str] = Field(default_factory=list, description="未满足的条件，附原文")
    assumptions: list[str] = Field(default_factory=list, description="计算采用的理解（如“以上”含本数）")
    citations: list[Citation] = Field(default_factory=list, description="依据条款（文件、文号、条款位置、原文）")
    beneficiary: str = Field(default="企业", description="受益方，如 企业、市政府、个人")
    amount_kind: Literal["award", "loan", "none"] = Field(default="award",
                                                          description="award 补助/奖励，loan 贴息贷款额度，none 文件未规定金额")
    period: str = Field(default="", description="兑现周期，如 每年、一次性")
    payment_form: str = Field(default="", description="兑现方式，如 算力券、奖励")
    notes: list[str] = Field(default_factory=list, description="其他说明")
    validity: Validity | None = Field(default=None, description="所依据文件在基准日期的效力")
    missing_facts: list[str] = Field(default_factory=list, description="还需提供的事实名（与 missing 一一对应）")
    missing_details: list[str] = Field(default_factory=list,
                                       description="还需提供的信息及条款规定的门槛（与 missing 一一对应），如“新增单体智能算力规模（P）（400P（含）以上）”")
    potential_amount_yuan: int | None = Field(default=None, description="补充信息且满足条件后最高可获得的金额（整数元）")
    formula: str = Field(default="", description="计算公式（中文）")
    materials: list[str] = Field(default_factory=list, description="申报材料")
    application: str = Field(default="", description="申报方式与渠道")


class Total(_Out):
    label: str = Field(description="合计的内容，如“三个项目合计”")
    amount_yuan: int = Field(description="合计金额（整数元，各项政策上限之和）")
    program_ids: list[str] = Field(default_factory=list, description="参与合计的项目编号")
    parts_yuan: list[int] = Field(default_factory=list, description="各项金额（整数元）")
    steps: list[str] = Field(default_factory=list, description="合计的计算步骤")
    in_force: bool | None = Field(default=None, description="参与合计的项目是否都仍可申报")


class AnswerValidity(_Out):
    document: str = Field(description="政策文件标题")
    status: Literal["in_force", "expired", "not_yet", "unstated"] = Field(
        description="基准日期时的效力；unstated 表示文件未规定有效期（申报通知，以申报截止为准）")
    effective_from: dt.date | None = Field(default=None, description="文件写明的施行日期；未写明时为空")
    effective_to: dt.date | None = Field(default=None, description="文件写明的有效期截止日；未写明时为空")
    window_open: bool | None = Field(default=None, description="基准日期是否在申报期内")
    window_closes: dt.date | None = Field(default=None, description="申报截止日期（文件规定了申报期时）")
    window_closes_time: str | None = Field(default=None, description="申报截止时刻（文件写明时，如 17:00）")
    replaced_by: str | None = Field(default=None, description="修订或废止本文件的文件编号（基准日期已生效时）")
    replaced_from: dt.date | None = Field(default=None, description="修订或废止的生效日期")
    replaced_kind: Literal["supersede", "repeal"] | None = Field(default=None, description="supersede 修订 / repeal 废止")
    expiring_soon: bool = Field(default=False, description="仍有效但60天内到期（即将到期）")


class FactRead(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "fact": "compute_purchase_yuan", "label": "年度购买算力服务总额", "value": 800000, "display": "80万元",
        "unit": "yuan", "year": 2025, "source_text": "去年买算力花了80万", "origin": "question", "choices": []}]})

    fact: str = Field(description="事实名（facts_override 的键）")
    label: str = Field(description="政策规则中的名称")
    value: Any = Field(description="计算采用的值：金额为整数元，百分比如 \"25%\"，算力如 \"500P\"，是/否为 true/false，选项为其键，日期为 YYYY-MM-DD")
    display: str = Field(description="采用的值（中文），如 80万元、是、三级")
    unit: str = Field(description="单位：yuan 金额、percent 百分比、count 数量、pflops 算力、bool 是/否、choice 选项、date 日期等")
    year: int | None = Field(default=None, description="该值所属年度（问题中说明了时间时）")
    source_text: str = Field(default="", description="问题中读到该信息的原话")
    origin: Literal["question", "earlier_turn", "assumed", "corrected"] = Field(
        description="来源：question 本轮问题；earlier_turn 之前的对话；assumed 规则推定（如无相反说明视为满足）；corrected 用户更正")
    choices: list[dict[str, str]] = Field(default_factory=list, description="选项类信息的可选值（key、label），便于更正")


class Answer(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "question": "厦门企业去年购买算力花了80万元，最高能补多少？", "status": "answered", "session_id": "3f2a9c1e",
        "answer": "**厦门市算力券**[1]\n- 最高可获得：**40万元**（每年，算力券）……", "citations": [EXAMPLE_CITATION],
        "calculations": [], "validity": [], "turn_id": 12}]})

    question: str = Field(description="问题")
    answer: str = Field(description="回答正文（中文）")
    status: Literal["answered", "needs_info", "not_found", "refused"] = Field(
        description="answered 已回答；needs_info 需补充信息（回答中说明缺什么）；not_found 语料库中没有；refused 拒答")
    citations: list[Citation] = Field(default_factory=list, description="引用条款")
    calculations: list[Calculation] = Field(default_factory=list, description="计算器结果（金额均出自这里）")
    validity: list[AnswerValidity] = Field(default_factory=list, description="所涉文件的效力")
    totals: list[Total] = Field(default_factory=list, description="回答中给出的合计金额（计算器结果之和）")
    session_id: str = Field(default="", description="会话 ID（服务端签发），下一轮提问时带上以继续对话")
    turn_id: int | None = Field(default=None, description="本轮回答的编号，用于 POST /api/feedback；不带会话 ID 的一次性问答"
                                                           "在继续对话或评价之前不写入数据库，此时为空")
    facts_read: list[FactRead] = Field(default_factory=list,
                                       description="计算用到的信息（先于回答展示）：名称、采用的值、年度、原话、来源；可用 facts_override 更正")
    facts_override: dict[str, Any] | None = Field(default=None, description="本轮采用的更正（事实名 → 采用的值；null 为删除）")


class EligibilityItem(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "program_id": "xm-compute-voucher", "program": "厦门市算力券", "doc_id": "xm-measures", "region": "福建省厦门市",
        "level": "city", "beneficiary": "企业", "status": "eligible", "status_zh": "符合条件", "amount_yuan": 400000,
        "amount_kind": "award", "reasons": [], "ask": [], "ask_facts": [], "stacking_group": "compute-purchase",
        "validity_status": "in_force", "validity_message": "……截至2025年6月30日仍在有效期内。",
        "calculation": {"program_id": "xm-compute-voucher", "program": "厦门市算力券", "eligible": True,
                        "amount_yuan": 400000, "citations": [EXAMPLE_CITATION]}}]})

    program_id: str = Field(description="补助项目编号")
    program: str = Field(description="补助项目名称")
    doc_id: str = Field(description="所依据文件编号")
    region: str = Field(description="适用地区")
    level: str = Field(description="层级：province / city / district")
    beneficiary: str = Field(description="受益方")
    status: Literal["eligible", "not_eligible", "needs_info"] = Field(description="符合 / 不符合 / 需补充信息")
    status_zh: str = Field(description="结论（中文）")
    amount_yuan: int | None = Field(default=None, description="符合时最高可获得金额（整数元）")
    potential_amount_yuan: int | None = Field(default=None, description="需补充信息时，补充并满足条件后的最高金额")
    amount_kind: str = Field(description="金额类型：award 补助/奖励，loan 贴息贷款额度，none 文件未规定金额")
    reasons: list[str] = Field(default_factory=list, description="不符合的原因")
    ask: list[str] = Field(default_factory=list, description="还需补充的信息")
    ask_facts: list[str] = Field(default_factory=list, description="还需补充的事实名")
    stacking_group: str | None = Field(default=None, description="同类支持分组（用于叠加规则）")
    validity_status: str = Field(default="", description="所依据文件在基准日期的效力")
    window_open: bool | None = Field(default=None, description="是否在申报期内")
    validity_message: str = Field(default="", description="效力说明")
    calculation: Calculation = Field(description="该项目的完整计算结果（含依据条款）")


class StackingNote(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "kind": "highest_not_both", "text": "……按“就高不重复”原则兑现。", "clause_id": "xm-measures:closing",
        "programs": ["xm-compute-voucher", "sm-compute"]}]})

    kind: str = Field(description="规则类型，如 highest_not_both（就高不重复）")
    text: str = Field(description="叠加规则说明（中文）")
    clause_id: str = Field(description="规则所在条款编号")
    programs: list[str] = Field(default_factory=list, description="涉及的项目编号")


class EligibilityReport(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "as_of": "2025-06-30", "profile_name": "厦门某智能科技有限公司", "location": "福建省厦门市思明区",
        "summary": "符合条件 3 项……", "items": [], "stacking": [
            {"kind": "highest_not_both", "text": "……按“就高不重复”原则兑现。", "clause_id": "xm-measures:closing",
             "programs": ["xm-compute-voucher", "sm-compute"]}]}]})

    as_of: dt.date = Field(description="判断所用的基准日期")
    profile_name: str = Field(default="", description="企业名称")
    location: str = Field(default="", description="企业所在地")
    items: list[EligibilityItem] = Field(description="全部项目：符合的按金额从高到低，其后为需补充信息、不符合")
    stacking: list[StackingNote] = Field(default_factory=list, description="叠加规则提示")
    summary: str = Field(default="", description="结论摘要（中文）")
    total_in_force_yuan: int = Field(default=0, description="现行有效（仍可申报）的符合条件项目补助上限合计（整数元）")
    total_expired_yuan: int = Field(default=0, description="已失效或申报已截止的符合条件项目按原规定的合计（整数元），现已不能申报")


class ProgramSummary(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "id": "xm-compute-voucher", "name": "厦门市算力券", "short_name": "算力券", "aliases": ["算力补贴", "租GPU"],
        "doc_id": "xm-measures", "document": "厦门市促进人工智能产业发展若干措施", "doc_short_title": "厦门市AI若干措施",
        "doc_number": "厦府办规〔2023〕10号", "region": "福建省厦门市", "region_path": ["福建省", "厦门市"], "level": "city",
        "level_zh": "市级", "beneficiary": "企业", "amount_kind": "award", "period": "每年", "payment_form": "算力券",
        "clause_ids": ["xm-measures:1.3"], "implements": None, "facts": ["compute_purchase_yuan"]}]})

    id: str = Field(description="补助项目编号")
    name: str = Field(description="项目名称")
    short_name: str = Field(description="简称")
    aliases: list[str] = Field(default_factory=list, description="常见说法")
    doc_id: str = Field(description="所依据文件编号")
    document: str = Field(description="所依据文件标题")
    doc_short_title: str = Field(description="文件简称")
    doc_number: str = Field(description="文号（无则为空）")
    region: str = Field(description="适用地区")
    region_path: list[str] = Field(description="省 / 市 / 区")
    level: str = Field(description="层级")
    level_zh: str = Field(description="层级（中文）")
    beneficiary: str = Field(description="受益方")
    amount_kind: str = Field(description="金额类型：award 补助/奖励，loan 贴息贷款额度，none 文件未规定金额")
    period: str = Field(description="兑现周期")
    payment_form: str = Field(description="兑现方式")
    clause_ids: list[str] = Field(description="依据条款编号")
    implements: str | None = Field(default=None, description="申报指南项目所落实的措施项目编号")
    facts: list[str] = Field(description="计算所需的事实名")


class FactInput(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "name": "compute_purchase_yuan", "label": "年度购买算力服务总额", "unit": "yuan", "multiple": False, "choices": [],
        "optional": False, "description": "一个年度内向算力服务企业实际支付的算力购买费用（元）。"}]})

    name: str = Field(description="事实名（facts 的键）")
    label: str = Field(description="中文名称")
    unit: str = Field(description="单位：yuan 金额、percent 百分比、count 数量、bool 是/否、choice 选项、date 日期等")
    multiple: bool = Field(default=False, description="选项是否可多选")
    choices: list[dict[str, Any]] = Field(default_factory=list, description="可选值：key（填写值）、label、aliases")
    optional: bool = Field(default=False, description="是否可不填")
    description: str = Field(default="", description="说明")
    cues: list[str] = Field(default_factory=list, description="用户常见说法（问答识别用）")
    profile_key: str | None = Field(default=None, description="资格自查中对应的企业情况字段（如 legal_person）")


class ProgramInputs(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "program_id": "xm-compute-voucher", "program": "厦门市算力券",
        "formula": "计算公式：年度购买算力服务总额 × 50%，最高不超过50万元。",
        "facts": [{"name": "compute_purchase_yuan", "label": "年度购买算力服务总额", "unit": "yuan"}],
        "citations": [EXAMPLE_CITATION]}]})

    program_id: str = Field(description="补助项目编号")
    program: str = Field(description="项目名称")
    formula: str = Field(description="计算公式（中文）")
    facts: list[FactInput] = Field(description="计算所需的事实")
    citations: list[Citation] = Field(description="依据条款")


class DocumentOverview(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "id": "xm-guide", "title": "厦门市数据管理局关于厦门市2023年度人工智能补助申报指南的通知",
        "short_title": "厦门市2023年度AI补助申报指南", "doc_number": "", "doc_number_aliases": [], "issuer": "厦门市数据管理局",
        "region": "厦门市", "region_path": ["福建省", "厦门市"], "level": "city", "level_zh": "市级",
        "publish_date": "2024-06-13", "effective_from": None, "effective_to": None, "validity_stated": False,
        "status": "unstated", "status_zh": "未规定有效期", "window_open": False, "window_closes": "2024-07-15",
        "application_channel": "“慧企云”政企协同平台",
        "message": "《厦门市数据管理局关于厦门市2023年度人工智能补助申报指南的通知》通知未规定有效期。申报时间2024年6月13日起至2024年7月15日……",
        "contacts": [], "program_ids": ["xm-guide-maas"]}]})

    id: str = Field(description="文件编号")
    title: str = Field(description="标题")
    short_title: str = Field(description="简称")
    doc_number: str = Field(description="文号（无则为空）")
    issuer: str = Field(description="发文单位")
    doc_number_aliases: list[str] = Field(default_factory=list, description="文号的其他写法")
    region: str = Field(description="地区")
    region_path: list[str] = Field(default_factory=list, description="省 / 市 / 区")
    level: str = Field(description="层级：province / city / district")
    level_zh: str = Field(description="层级（中文）")
    publish_date: dt.date | None = Field(default=None, description="文件写明的发布日期；未写明时为空")
    effective_from: dt.date | None = Field(default=None, description="文件写明的施行日期；未写明时为空")
    effective_to: dt.date | None = Field(default=None, description="文件写明的有效期截止日；未写明时为空")
    validity_stated: bool = Field(default=True, description="文件是否写明了有效期（申报通知通常只写申报截止）")
    status: Literal["in_force", "expired", "not_yet", "unstated"] = Field(description="基准日期时的效力")
    status_zh: str = Field(description="效力（中文）")
    expiring_soon: bool = Field(default=False, description="仍有效但60天内到期（即将到期）")
    window_open: bool | None = Field(default=None, description="是否在申报期内")
    window_closes: dt.date | None = Field(default=None, description="申报截止日期")
    window_closes_time: str | None = Field(default=None, description="申报截止时刻（文件写明时）")
    replaced_by: str | None = Field(default=None, description="修订或废止本文件的文件编号（基准日期已生效时）")
    replaced_from: dt.date | None = Field(default=None, description="修订或废止的生效日期")
    application_channel: str = Field(default="", description="申报渠道")
    message: str = Field(description="效力与申报期说明")
    contacts: list[dict[str, Any]] = Field(default_factory=list, description="联系人")
    program_ids: list[str] = Field(default_factory=list, description="该文件下的补助项目编号")


class SearchHit(Citation):
    doc_id: str = Field(description="文件编号")
    score: float = Field(description="相关度（越大越相关）")
    kind: str = Field(default="body", description="条款类型：body 正文、contacts 联系方式、attachment 附件等")
    chunk_id: str | None = Field(default=None, description="检索块编号（长条款切分时为 条款编号#序号）")
    region: str | None = Field(default=None, description="文件所属地区")
    level: str | None = Field(default=None, description="文件层级")
    bm25_rank: int | None = Field(default=None, description="诊断：关键词检索中的名次")
    dense_rank: int | None = Field(default=None, description="诊断：向量检索中的名次")


class SearchResult(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"query": "算力券", "hits": [{**EXAMPLE_CITATION, "doc_id": "xm-measures", "score": 0.92, "kind": "body"}],
         "no_relevant": False, "reason": ""}]})

    query: str = Field(description="检索词")
    hits: list[SearchHit] = Field(description="命中的条款，按相关度从高到低")
    no_relevant: bool = Field(description="true 表示语料库中没有足够相关的条款（命中仅供参考）")
    reason: str = Field(default="", description="no_relevant 时的说明")
    relevance: float | None = Field(default=None, description="诊断：最相关命中的相关度")
    timings_ms: dict[str, float] = Field(default_factory=dict, description="诊断：各检索阶段耗时（毫秒）")
    dense_skipped: bool = Field(default=False, description="诊断：关键词检索已足够明确（或问题只涉及未收录的地区），"
                                                           "未做向量编码")


class Turn(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "turn_id": 12, "question": "厦门企业去年购买算力花了80万元，最高能补多少？",
        "answer": {"question": "厦门企业去年购买算力花了80万元，最高能补多少？", "answer": "……最高可获得40万元……",
                   "status": "answered", "session_id": "3f2a9c1e"}, "created_at": "2025-06-30T10:00:00+08:00"}]})

    turn_id: int | None = Field(description="回答编号；尚未写入数据库的一次性问答为空")
    question: str = Field(description="问题")
    answer: Answer = Field(description="当时的完整回答")
    created_at: str | None = Field(description="时间（ISO 8601）；尚未写入数据库时为空")


class SessionHistory(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"session_id": "3f2a9c1e", "turns": []}]})

    session_id: str = Field(description="会话 ID")
    turns: list[Turn] = Field(description="按时间先后排列的问答")


class FeedbackAck(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"ok": True, "id": 7, "message": "感谢您的反馈！"}]})

    ok: bool = Field(description="是否已记录")
    id: int = Field(description="反馈编号")
    message: str = Field(description="提示（中文）")


class DeletedAck(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"ok": True, "message": "该对话的全部记录已删除。"}]})

    ok: bool = Field(description="是否已删除")
    message: str = Field(description="提示（中文）")


class PartHealth(_Out):
    status: Literal["ok", "degraded", "unavailable", "recovered"] = Field(description="该部分的状态")
    message: str | None = Field(default=None, description="不是 ok 时的中文说明")
    build_id: str | None = Field(default=None, description="（索引）正在使用的构建编号")
    kept_aside: str | None = Field(default=None, description="（会话库）损坏后保留的原文件名")


class Health(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"status": "ok", "index": {"status": "ok", "build_id": "20250630-100000-000000-ab12"}, "store": {"status": "ok"},
         "llm": False, "as_of": "2025-06-30"}]})

    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="ok 正常；degraded 可用但有问题（见 message）；unavailable 无法检索与问答（HTTP 503）")
    message: str | None = Field(default=None, description="不是 ok 时的中文说明")
    index: PartHealth = Field(description="政策索引：已校验的构建、向量库是否可用")
    store: PartHealth = Field(description="会话数据库：是否曾损坏并已另存")
    llm: bool = Field(description="是否启用了大模型")
    as_of: dt.date = Field(description="服务当前的基准日期")


class ErrorBody(_Out):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"error": "unknown_program", "message": "未找到补助项目“xx”。可用 `policy-assistant programs` 查看全部项目编号。"}]})

    error: str = Field(description="错误代码（英文，稳定）")
    message: str = Field(description="错误说明（中文）")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the JSON error body at these statuses."""
    text = {401: "未授权（配置了 API 密钥时）", 404: "未找到", 413: "请求内容过大", 422: "请求参数不正确",
            429: "请求过于频繁", 503: "政策索引尚未构建或已损坏"}
    return {s: {"model": ErrorBody, "description": text.get(s, "错误")} for s in statuses}
