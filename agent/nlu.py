"""Understanding a Chinese question without an LLM: input checks, injection, regions, intents, program matches."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Regions the corpus covers, keyed by a short name; each maps to the documents that govern it.
REGION_DOCS: dict[str, tuple[str, ...]] = {
    "xiamen": ("xm-measures", "xm-guide"),
    "siming": ("siming",),
    "quanzhou": ("quanzhou",),
    "anhui": ("anhui",),
}
REGION_ZH = {"xiamen": "厦门市", "siming": "思明区", "quanzhou": "泉州市（福建省级项目）", "anhui": "安徽省"}
REGION_OF_DOC = {doc: region for region, docs in REGION_DOCS.items() for doc in docs}

_REGION_NAMES: list[tuple[str, str]] = [
    ("思明区", "siming"), ("思明", "siming"), ("siming", "siming"),
    ("厦门市", "xiamen"), ("厦门", "xiamen"), ("xiamen", "xiamen"), ("鹭岛", "xiamen"),
    ("湖里", "xiamen"), ("集美", "xiamen"), ("海沧", "xiamen"), ("同安", "xiamen"), ("翔安", "xiamen"),
    ("火炬高新区", "xiamen"), ("软件园", "xiamen"), ("慧企云", "xiamen"),
    ("泉州市", "quanzhou"), ("泉州", "quanzhou"), ("quanzhou", "quanzhou"), ("晋江", "quanzhou"), ("石狮", "quanzhou"),
    ("南安", "quanzhou"), ("惠安", "quanzhou"), ("安溪", "quanzhou"), ("丰泽", "quanzhou"), ("鲤城", "quanzhou"),
    ("安徽省", "anhui"), ("安徽", "anhui"), ("anhui", "anhui"), ("合肥", "anhui"), ("芜湖", "anhui"), ("皖", "anhui"),
]

# Places the corpus does not cover. A question about only these is answered with what the corpus does cover.
OUTSIDE_REGIONS = (
    "北京 上海 天津 重庆 深圳 广州 杭州 南京 苏州 成都 武汉 西安 长沙 郑州 济南 青岛 福州 漳州 莆田 宁德 龙岩 三明 南平 "
    "广东 浙江 江苏 山东 河南 湖北 湖南 四川 陕西 河北 山西 辽宁 吉林 黑龙江 江西 广西 云南 贵州 海南 甘肃 青海 宁夏 "
    "新疆 西藏 内蒙古 香港 澳门 台湾 雄安 东莞 佛山 宁波 无锡 大连 沈阳 哈尔滨 长春 昆明 南宁 贵阳 南昌 太原 石家庄 "
    "乌鲁木齐 兰州 珠海 汕头 温州 常州 徐州 嘉兴 绍兴 金华 台州 烟台 潍坊 洛阳 宜昌 襄阳 株洲 绵阳 "
    "shenzhen beijing shanghai hangzhou guangzhou"
).split()

_INJECTION = [
    r"(忽略|无视|忘记|忘掉|不要管|跳过|覆盖).{0,12}(指令|指示|提示|规则|设定|要求|约束|限制|prompt)",
    r"(系统|system)\s*(提示|prompt|指令|消息|message|设定)",
    r"提示词|prompt|instruction",
    r"你的(设定|规则|指令|初始|原始|内部|隐藏)",
    r"(输出|打印|显示|告诉我|泄露|复述|重复).{0,8}(你的|上面的|以上的|前面的|系统).{0,6}(内容|指令|设定|规则|配置)",
    r"开发者模式|越狱|jailbreak|\bDAN\b|developer mode",
    r"(现在你是|你现在是|假装你是|扮演).{0,20}",
    r"(重复|复述|背诵|原样输出).{0,10}(上面|前面|以上|之前|你的|初始)|一字不差|从“你是”开始|从\"你是\"开始",
    r"^\s*(system|系统|assistant|助手)\s*[:：]|你是(一个)?没有(任何)?限制",
    r"ignore\s+(all\s+|the\s+|any\s+)?(previous|prior|above|earlier)",
    r"(直接|马上|立刻|立即)?(批准|审批通过|通过审核|确认发放).{0,15}(补贴|补助|奖励|资金|万元|万)",
]
_INJECTION_RE = [re.compile(p, re.IGNORECASE) for p in _INJECTION]

# Words that show a question is about subsidies/policies at all (used with retrieval to decide off-topic).
STRONG_POLICY_WORDS = (
    "补贴 补助 奖励 奖补 扶持 资助 政策 措施 申报 兑现 条款 算力 券 若干措施 指南 通知 智算 人工智能 揭榜 "
    "专精特新 小巨人 备案 智改数转 领雁 联合体 首台 实验室 贴息"
).split()

POLICY_WORDS = (
    "补贴 补助 奖励 扶持 资助 政策 措施 申报 申请 兑现 条款 文件 材料 条件 资格 算力 券 模型 算法 数据 智算 "
    "人工智能 AI ai 研发 上市 挂牌 标准 首台 实验室 平台 场景 楼宇 职称 贷款 贴息 营收 收入 企业 公司 "
    "截止 有效 失效 期限 联系 电话 叠加 重复 揭榜 专精特新 小巨人 备案 智改数转 数字化 领雁 大赛 供应商 "
    "多少钱 能拿 能报 报销 给多少 最高 年度 这一条 这条"
).split()

INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "compare": ("区别", "不同", "差别", "比较", "对比", "哪个多", "哪个高", "哪个好", "哪边", "相比", "vs", "VS", "差异",
                "有啥不一样", "不一样"),
    "stacking": ("叠加", "同时享受", "同时申请", "同时申报", "同时拿", "一起拿", "都拿", "重复享受", "重复申请", "就高",
                 "兼得", "一起申请", "两个都", "都能拿", "都可以拿", "能同时", "可以同时", "双拿", "一起领", "同时领",
                 "重复拿", "都领", "重复领", "报两个", "申报两个", "两个项目", "同时报", "重复扶持", "不再享受"),
    "validity": ("有效期", "有效吗", "还有效", "失效", "过期", "作废", "废止", "还能用", "还适用", "现在还", "目前还",
                 "施行", "生效", "实施时间", "到什么时候", "有效到"),
    "deadline": ("截止", "什么时候申报", "何时申报", "申报时间", "申请时间", "几号", "申报期限", "截止期限", "窗口",
                 "申报期", "什么时候报", "什么时候申请", "还来得及", "还能申报", "还能申请", "报送时间", "哪天", "逾期"),
    "materials": ("什么材料", "哪些材料", "材料清单", "材料有哪些", "需要材料", "要什么材料", "提交什么", "交什么",
                  "准备什么", "附件", "申请表", "要交", "什么资料", "哪些资料", "需要提供什么", "要提供什么", "申报材料",
                  "兑现材料有", "材料要求", "准备哪些", "佐证材料", "哪些佐证", "要带什么", "需要什么材料"),
    "contacts": ("联系", "电话", "咨询", "找谁", "邮箱", "地址", "联系人", "热线", "窗口在哪"),
    "channel": ("在哪申报", "哪里申报", "在哪里申请", "怎么申报", "如何申报", "怎么申请", "如何申请", "申报流程",
                "申报渠道", "申报入口", "网上申报", "平台申报", "流程", "送到哪", "交到哪", "报送到", "送哪", "提交到哪",
                "寄到", "怎么报", "去哪报", "去哪申请", "哪里报", "在哪报", "送至"),
    "interpreter": ("负责解释", "解释部门", "解释权", "哪个部门解释", "谁解释", "由谁解释", "哪个单位负责"),
    "method": ("上限分别", "分别多少", "分别是多少", "比例和上限", "补助标准", "奖励标准", "标准分别", "计算公式",
               "公式是", "怎么计算的", "各档", "几档", "按多大比例", "比例是多少", "利率", "期限多长", "贷款期限",
               "多大比例", "补多少比例", "按什么比例"),
    "conditions": ("条件", "要求", "门槛", "几家", "多少家", "几个企业", "几个客户", "标准是", "需要满足", "什么企业", "哪些企业", "谁可以", "适用对象", "对象"),
    "definition": ("指什么", "是什么意思", "什么意思", "是指", "定义", "怎么理解", "含义", "啥意思", "是啥"),
    "eligibility": ("能不能", "可不可以", "是否", "符合", "有资格", "够不够", "够格", "够条件", "能申请吗", "可以申请吗", "能报吗",
                    "可以报吗", "能享受吗", "能拿吗", "可以拿吗", "行不行", "算不算", "满足"),
    "amount": ("多少", "能拿", "可拿", "算一下", "算算", "测算一下", "帮我算", "补多少", "给多少", "最高", "金额", "怎么算", "计算", "测算", "报销", "几万",
               "能补", "可以补", "奖多少", "拿到", "返多少", "有多少"),
    "list": ("有哪些", "有什么", "哪些补贴", "哪些政策", "都有啥", "有啥", "清单", "列表", "列出", "盘点", "汇总"),
}


@dataclass
class InputProblem:
    code: str
    message: str
    status: str


@dataclass
class Parsed:
    text: str
    regions: list[str] = field(default_factory=list)
    outside_regions: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    injection: bool = False
    policy_words: bool = False
    strong_policy_words: bool = False

    def has(self, intent: str) -> bool:
        return intent in self.intents


# Common misspellings of policy terms (同音/形近字) mapped to the term the documents use.
TYPOS = {"算力卷": "算力券", "AI卷": "AI券", "ai卷": "AI券", "Ai券": "AI券", "ai券": "AI券", "首台(套)": "首台套",
         "首台（套）": "首台套", "专精特心": "专精特新", "小巨仁": "小巨人", "揭榜挂师": "揭榜挂帅", "智改数装": "智改数转"}


def normalize(text: str) -> str:
    """NFKC (full-width digits/letters to ASCII), drop control characters, fix common typos, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    for wrong, right in TYPOS.items():
        text = text.replace(wrong, right)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return re.sub(r"\s+", " ", text).strip()


def check_input(question: object, max_chars: int) -> InputProblem | None:
    if not isinstance(question, str) or not question.strip():
        return InputProblem(
            "empty_question",
            "请输入您的问题。例如：“在厦门买算力服务，最高能拿多少补助？”或“思明区普惠算力补助的条件是什么？”",
            "needs_info",
        )
    if len(question) > max_chars:
        return InputProblem(
            "question_too_long",
            f"问题过长（{len(question)}字），请精简到{max_chars}字以内：写明企业所在地区、想问的补助和相关金额即可。",
            "refused",
        )
    return None


def detect_regions(text: str) -> list[str]:
    found: list[str] = []
    lowered = text.lower()
    for name, region in _REGION_NAMES:
        if name in lowered and region not in found:
            found.append(region)
    return found


def detect_outside(text: str) -> list[str]:
    lowered = text.lower()
    return [name for name in OUTSIDE_REGIONS if name in lowered]


def detect_intents(text: str) -> list[str]:
    return [intent for intent, words in INTENT_WORDS.items() if any(w in text for w in words)]


def is_injection(text: str) -> bool:
    return any(p.search(text) for p in _INJECTION_RE)


def parse(text: str) -> Parsed:
    norm = normalize(text)
    return Parsed(
        text=norm,
        regions=detect_regions(norm),
        outside_regions=detect_outside(norm),
        intents=detect_intents(norm),
        injection=is_injection(norm),
        policy_words=any(w in norm for w in POLICY_WORDS),
        strong_policy_words=any(w in norm for w in STRONG_POLICY_WORDS),
    )
