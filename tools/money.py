"""Exact parsing and formatting of Chinese money, percentages and counts (never float).

Accepted money forms: 30万, 30万元, 三十万元, 1.5亿, 2,000万元, 0.8万, 5000元, 1千万, 一千万, 两百万, 3万5千, ¥300000.
`parse_money` returns int yuan when whole, otherwise an exact `Decimal` (e.g. 123.45元).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from tools.errors import MoneyParseError

# Financial (大写) numerals as written on invoices: 壹佰伍拾万元 → 一百五十万元.
CAPITAL_NUMERALS = str.maketrans("壹贰贰叁肆伍陆柒捌玖拾佰仟", "一二二三四五六七八九十百千")


def plain_numerals(text: str) -> str:
    """大写 digits and units to the ordinary ones (壹佰伍拾万 → 一百五十万)."""
    return text.translate(CAPITAL_NUMERALS)


# Sanity bound for any amount a user types: 1万亿 yuan (exclusive of larger values).
ABSURD_YUAN = 10**12

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG_UNITS = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_NUM_CHARS = "0-9零〇一二两俩三四五六七八九十拾百佰千仟万萬亿億点."
_ARABIC = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


@dataclass(frozen=True)
class MoneyMatch:
    """An amount found inside a sentence: exact value and its span in the original text."""

    value_yuan: int | Decimal
    start: int
    end: int
    raw: str


@dataclass(frozen=True)
class PercentMatch:
    """A percentage found inside a sentence (value in percent points: 50% → Decimal('50'))."""

    value: Decimal
    start: int
    end: int
    raw: str


def _to_exact(value: Fraction) -> int | Decimal:
    if value.denominator == 1:
        return int(value)
    return Decimal(value.numerator) / Decimal(value.denominator)


def _to_fraction(value) -> Fraction:
    if isinstance(value, bool):
        raise MoneyParseError("数值不能是是/否。")
    if isinstance(value, (int, Decimal, Fraction)):
        return Fraction(value)
    if isinstance(value, float):  # arrives only from JSON; go through its shortest repr, never binary arithmetic
        return Fraction(Decimal(repr(value)))
    raise MoneyParseError(f"无法识别数值：{value!r}")


def _cn_decimal_to_arabic(text: str) -> str:
    """一点五 → 1.5 (digits after 点 are read one by one)."""
    def repl(m: re.Match) -> str:
        head, tail = m.group(1), m.group(2)
        head_val = _parse_numeral(head) if head else Fraction(0)
        digits = "".join(str(_CN_DIGITS[c]) if c in _CN_DIGITS else c for c in tail)
        return f"{_to_exact(head_val)}.{digits}"

    return re.sub(r"([0-9零〇一二两俩三四五六七八九十拾百佰千仟]*)点([0-9零〇一二两俩三四五六七八九]+)", repl, text)


# the common case, read without the general loop: an Arabic number, alone or with one 万/亿 ('3795万', '1.5亿')
_PLAIN_NUMERAL = re.compile(r"(\d+(?:\.\d+)?)([万亿]?)")


def _parse_numeral(text: str) -> Fraction:
    """Mixed Arabic/Chinese numeral with 十百千万亿 units: '1千万', '三十', '1亿5000万', '0.8万'."""
    if not text:
        raise MoneyParseError("缺少数字。")
    plain = _PLAIN_NUMERAL.fullmatch(text)
    if plain and plain.group(1).isascii():
        return Fraction(Decimal(plain.group(1))) * _BIG_UNITS.get(plain.group(2), 1)
    text = _cn_decimal_to_arabic(text) if "点" in text else text
    total = Fraction(0)
    section = Fraction(0)
    number: Fraction | None = None
    pos = 0
    saw_digit = False
    while pos < len(text):
        ch = text[pos]
        m = _ARABIC.match(text, pos)
        if m:
            number = Fraction(Decimal(m.group(0)))
            saw_digit = True
            pos = m.end()
            continue
        if ch in _CN_DIGITS:
            # a run of bare digits such as 二〇二四 or 五五: read positionally
            run = ch
            while pos + len(run) < len(text) and text[pos + len(run)] in _CN_DIGITS:
                run += text[pos + len(run)]
            if len(run) > 1 and run[0] in "零〇":
                run = run.lstrip("零〇") or "零"
            value = 0
            for c in run:
                value = value * 10 + _CN_DIGITS[c] if len(run) > 1 else _CN_DIGITS[c]
            number = Fraction(value)
            saw_digit = True
            pos += len(run)
            continue
        if ch in _SMALL_UNITS:
            unit = _SMALL_UNITS[ch]
            if number is None:
                if unit == 10 or pos == 0 or text[pos - 1] in _BIG_UNITS:
                    number = Fraction(1)  # 十五 = 15; 百万 = 1百万
                else:
                    raise MoneyParseError(f"数字写法不规范：{text}")
            section += number * unit
            number = None
            saw_digit = True
            pos += 1
            continue
        if ch in _BIG_UNITS:
            unit = _BIG_UNITS[ch]
            head = section + (number or 0)
            if head == 0 and not saw_digit:
                raise MoneyParseError(f"缺少数字：{text}")
            if unit == 10**8:
                total = (total + head) * unit
            else:
                total += head * unit
            section = Fraction(0)
            number = None
            saw_digit = True
            pos += 1
            continue
        raise MoneyParseError(f"无法识别数字：{text}")
    if not saw_digit:
        raise MoneyParseError(f"缺少数字：{text}")
    last_unit = _last_unit(text)
    if number is not None and last_unit and _bare_tail_digit(text):
        # colloquial: 3万5 = 3.5万, 1亿2 = 1.2亿, 3千5 = 3500 (one bare digit after the last unit)
        return total + section + number * last_unit / 10
    return total + section + (number or 0)


def _last_unit(text: str) -> int | None:
    for ch in reversed(text):
        if ch in _BIG_UNITS:
            return _BIG_UNITS[ch]
        if ch in _SMALL_UNITS:
            return _SMALL_UNITS[ch] if _SMALL_UNITS[ch] >= 100 else None
    return None


def _bare_tail_digit(text: str) -> bool:
    """True for '3万5', '1亿2', '3千5' (one digit after the last unit, nothing else)."""
    return bool(re.search(r"[万萬亿億千仟百佰][0-9一二两三四五六七八九]$", text))


def _normalise(text: str) -> str:
    text = str(text).strip()
    text = text.replace("，", ",") if re.search(r"\d，\d{3}", text) else text
    text = _THOUSANDS.sub("", text)
    text = re.sub(r"\s+", "", text)
    return text


def _check_sign(text: str, what: str) -> str:
    if text.startswith(("-", "－", "负", "−")):
        raise MoneyParseError(f"{what}不能为负数：{text}")
    return text.lstrip("+＋")


def parse_money(value) -> int | Decimal:
    """Parse a money amount to exact yuan: int when whole, Decimal when it has 角/分."""
    if not isinstance(value, str):
        amount = _to_fraction(value)
        return _check_money_range(amount, str(value))
    raw = value
    text = _normalise(value)
    if not text:
        raise MoneyParseError("金额为空。")
    text = _check_sign(text, "金额")
    text = text.removeprefix("人民币").removeprefix("¥").removeprefix("￥").removeprefix("约")
    text = text.removesuffix("人民币")
    for suffix in ("块钱", "块", "元整", "元", "rmb", "RMB"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    if re.search(r"[PpＰ](?:flops|FLOPS|Flops)?$|家$|个$|人$|名$|%$|％$", text):
        raise MoneyParseError(f"“{raw}”不是金额。")
    if not text or not re.fullmatch(f"[{_NUM_CHARS}]+", text):
        raise MoneyParseError(f"无法识别金额：“{raw}”。请写成如“12万元”“1.2亿”“123456元”。")
    amount = _parse_numeral(text)
    return _check_money_range(amount, raw)


def _check_money_range(amount: Fraction, raw: str) -> int | Decimal:
    if amount < 0:
        raise MoneyParseError(f"金额不能为负数：{raw}")
    if amount > ABSURD_YUAN:
        raise MoneyParseError(f"金额“{raw}”超过1万亿元，不合常理，请核对。")
    return _to_exact(amount)


def parse_number(value) -> Decimal:
    """A plain non-negative number, Arabic or Chinese ('三十', '1.5', '两百')."""
    if not isinstance(value, str):
        amount = _to_fraction(value)
    else:
        text = _check_sign(_normalise(value), "数值")
        if not text or not re.fullmatch(f"[{_NUM_CHARS}]+", text):
            raise MoneyParseError(f"无法识别数字：“{value}”。")
        amount = _parse_numeral(text)
    if amount < 0:
        raise MoneyParseError(f"数值不能为负数：{value}")
    return Decimal(amount.numerator) / Decimal(amount.denominator)


def parse_percent(value) -> Decimal:
    """Percent points: '50%', '百分之五十', '五成', '千分之六' (0.6), bare '25' (read as 25%)."""
    if not isinstance(value, str):
        amount = _to_fraction(value)
        if amount < 0:
            raise MoneyParseError(f"百分比不能为负数：{value}")
        return Decimal(amount.numerator) / Decimal(amount.denominator)
    raw = value
    text = _normalise(value)
    negative = text.startswith(("-", "－", "负", "−"))
    text = text.lstrip("-－−+＋").removeprefix("负")
    if text.startswith("增长") or text.startswith("下降"):
        negative = negative or text.startswith("下降")
        text = text[2:]
    scale = Fraction(1)
    if text.endswith(("%", "％")):
        text = text[:-1]
    elif text.startswith("百分之"):
        text = text[3:]
    elif text.startswith("千分之"):
        text, scale = text[3:], Fraction(1, 10)
    elif text.endswith("成") and len(text) > 1:
        text, scale = text[:-1], Fraction(10)
    if not text or not re.fullmatch(f"[{_NUM_CHARS}]+", text):
        raise MoneyParseError(f"无法识别百分比：“{raw}”。请写成如“12%”或“百分之十二”。")
    amount = _parse_numeral(text) * scale
    if negative:
        amount = -amount
    return Decimal(amount.numerator) / Decimal(amount.denominator)


def parse_count(value) -> int:
    """A non-negative whole count: '50家', '五十家', '5', '第3名', '前5名'."""
    raw = value
    if not isinstance(value, str):
        amount = _to_fraction(value)
    else:
        text = _check_sign(_normalise(value), "数量")
        text = re.sub(r"^(?:第|前|排名第|排名|排第)", "", text)
        text = re.sub(r"(?:家企业|家|个|人|名|位|项|次|户)$", "", text)
        if not text or not re.fullmatch(f"[{_NUM_CHARS}]+", text):
            raise MoneyParseError(f"无法识别数量：“{raw}”。")
        amount = _parse_numeral(text)
    if amount < 0:
        raise MoneyParseError(f"数量不能为负数：{raw}")
    if amount.denominator != 1:
        raise MoneyParseError(f"数量应为整数：{raw}")
    return int(amount)


def parse_pflops(value) -> Decimal:
    """Computing scale in P (PFlops): '100P', '400PFlops', '100'."""
    if isinstance(value, str):
        text = _normalise(value)
        text = re.sub(r"(?:[PpＰ](?:flops|FLOPS|Flops)?(?:\(FP16\)|（FP16）)?)$", "", text)
        return parse_number(text)
    return parse_number(value)


def parse_rate(text: str) -> Fraction:
    """A rate written in rules data: '50%', '0.6%', '1/3' → exact fraction of 1."""
    text = str(text).strip()
    m = re.fullmatch(r"(\d+)/(\d+)", text)
    if m:
        return Fraction(int(m.group(1)), int(m.group(2)))
    return Fraction(parse_percent(text)) / 100


# --- the one number reader: amounts, percentages, counts, P, years inside sentences -------------------------------
# Facts, the answer guard and the evals all read figures with these functions, so they agree on values
# ("40万元" == "400,000元" == "四十万元"; "3万5千元" == 35000; "80w" == 80万; "1e309元" is not 309元).
_NUM = r"(?:\d{1,3}(?:[,，]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿点0-9.])+"
_MONEY_RE = re.compile(
    r"(?<![\d.])(?<![\d][eE])(?<![A-Za-z])(?P<cur>[¥￥]|RMB|rmb|CNY|人民币)?\s*(?P<num>" + _NUM + r")\s*"
    r"(?P<unit>个亿|千万|百万|万亿|[kK][wW](?![A-Za-z])|[wW万亿](?![A-Za-z])|[kK](?![A-Za-z]))?\s*"
    r"(?P<yuan>元|块钱|块|人民币|rmb|RMB|yuan|CNY)?"
)
# A list number ("2. -3000万元") is not the head of a range: the head may not end in a point.
_RANGE_CONNECTORS = ("至", "到", "-", "－", "~", "～", "—", "–")
_RANGE_HEAD_RE = re.compile(r"(?<![\d.])(?P<num>" + _NUM + r")(?<![.．])\s*(?:" + "|".join(_RANGE_CONNECTORS) + r")\s*$")


def _range_head(before: str) -> re.Match | None:
    """The head of a range ending `before` ("20至" of "20至50万元"). The pattern is anchored at the end but searched
    from every position, so texts that do not end in a connector are ruled out first (that search was half of
    reading a long answer's figures)."""
    if not before.rstrip().endswith(_RANGE_CONNECTORS):
        return None
    return _RANGE_HEAD_RE.search(before)
# A figure directly followed by one of these counts things, not money ("50万人", "3万家", "100P").
_COUNTERS = ("人", "家", "个", "台", "套", "项", "户", "次", "件", "名", "字", "平方", "平米", "㎡", "册", "条", "份", "张",
             "篇", "亩", "吨", "辆", "座", "栋", "款", "位", "年", "月", "日", "号", "倍", "成", "P", "p", "Ｐ", "%", "％")
_UNIT_VALUE = {"个亿": 10**8, "千万": 10**7, "百万": 10**6, "万亿": 10**12, "亿": 10**8, "万": 10**4, "w": 10**4,
               "W": 10**4, "k": 10**3, "K": 10**3, "kw": 10**7, "KW": 10**7, "kW": 10**7, "Kw": 10**7}  # kw: 千万


def _money_value(num: str, unit: str | None) -> Fraction | None:
    num = num.replace(",", "").replace("，", "").rstrip(".点")
    if not num or num in ("万", "亿", "千", "百", "十"):
        return None
    try:
        value = _parse_numeral(num)
    except MoneyParseError:
        return None
    return value * _UNIT_VALUE.get(unit or "", 1)


def find_money(text: str) -> list[MoneyMatch]:
    """Every amount of money in `text`: a number with 元/块/¥/RMB, or with a 万/亿/w scale (30万, 1.2个亿, 80w,
    三十万元, 3万5千元, 200k RMB). Counts (50万人), P values, years and percentages are not money; the head of a
    range shares its tail's unit (20至50万元 → 20万 and 50万)."""
    found: list[MoneyMatch] = []
    for m in _MONEY_RE.finditer(text):
        num, unit, yuan, cur = m.group("num"), m.group("unit"), m.group("yuan"), m.group("cur")
        num_start, start = m.start("num"), m.start()
        lead = re.match(r"^[一二两三四五六七八九十]点(?=\d)", num or "")
        if lead:  # “差一点5万”: 一点 is “a little”, the number is 5万
            num, num_start = num[lead.end():], num_start + lead.end()
            start = num_start
        if not num or not re.search(r"[0-9零〇一二两三四五六七八九十]", num[:1] + num):
            continue
        if num[0] in "千万亿百十" and not yuan and num[0] not in "十":
            continue  # 千万不要 / 万一
        scale = unit or next((c for c in reversed(num) if c in "万亿"), None)
        is_cn = not num[0].isdigit()
        money_word = bool(yuan or cur)
        if unit in ("k", "K") and not money_word and not re.search(r"(买了?|花了?|付了?|投入|支出|收入|营收|费用)\s*$",
                                                                  text[max(0, start - 6):start]):
            continue  # 200k alone is not clearly money; “买了85k” is
        if not money_word and not scale:
            continue
        if is_cn and not money_word and not re.search("[万亿]", num + (unit or "")):
            continue
        # “一家6万一家5万”: a Chinese digit right before a counter starts the next phrase, not this number
        while not (money_word or unit) and len(num) > 1 and num[-1] in "一二两三四五六七八九" and \
                text.startswith(_COUNTERS, num_start + len(num)):
            num = num[:-1]
            scale = next((c for c in reversed(num) if c in "万亿"), None)
        if not money_word and not scale:
            continue
        end = m.end() if money_word or unit else num_start + len(num)
        raw = text[start:end].strip()
        if not money_word and text.startswith(_COUNTERS, end):
            continue
        value = _money_value(num, unit)
        if value is None or value > ABSURD_YUAN:
            continue
        found.append(MoneyMatch(value_yuan=_to_exact(value), start=start, end=end, raw=raw))
        head = _range_head(text[:start])
        tail_scale = _UNIT_VALUE.get(unit) if unit else _UNIT_VALUE.get(num[-1]) if num[-1] in "万亿" else None
        if head and tail_scale and not re.search("[万亿]", head.group("num")):
            head_value = _money_value(head.group("num"), None)
            if head_value is not None and not any(f.start == head.start() for f in found):
                found.append(MoneyMatch(value_yuan=_to_exact(head_value * tail_scale), start=head.start(),
                                        end=start, raw=head.group(0).strip()))
    return sorted(found, key=lambda f: f.start)


_PERCENT_RE = re.compile(
    r"(?:百分之|千分之)(?P<cn>[0-9零〇一二两三四五六七八九十百点.]+)"
    r"|(?<![\d.])(?P<num>\d+(?:\.\d+)?)\s*[%％]"
    r"|(?P<cheng>[0-9一二三四五六七八九十])成(?![员本功为立交果绩都])"
)


def find_percents(text: str) -> list[PercentMatch]:
    """Every percentage in `text` ('50%', '百分之五十', '五成', '千分之六'); the head of '10-20%' too."""
    found: list[PercentMatch] = []
    for m in _PERCENT_RE.finditer(text):
        try:
            value = parse_percent(m.group(0))
        except MoneyParseError:
            continue
        found.append(PercentMatch(value=value, start=m.start(), end=m.end(), raw=m.group(0)))
        head = _range_head(text[: m.start()])
        if head and m.group("num"):
            try:
                found.append(PercentMatch(value=parse_percent(head.group("num") + "%"), start=head.start(),
                                          end=m.start(), raw=head.group(0).strip()))
            except MoneyParseError:
                pass
    return sorted(found, key=lambda f: f.start)


# --- formatting -----------------------------------------------------------------------------------
def _plain(value: Fraction) -> str:
    dec = Decimal(value.numerator) / Decimal(value.denominator)
    text = format(dec.normalize(), "f") if dec == dec.to_integral_value() or len(str(dec)) < 20 else f"{dec:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_yuan(value) -> str:
    """Readable exact yuan: 400000 → '40万元', 15000 → '1.5万元', 5000 → '5000元', 12345 → '12345元', 1.5亿元."""
    amount = _to_fraction(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount.denominator == 1:
        n = int(amount)
        if n >= 10**8 and n % 10**6 == 0:
            return f"{sign}{_plain(Fraction(n, 10**8))}亿元"
        if n >= 10**4 and n % 100 == 0:
            return f"{sign}{_plain(Fraction(n, 10**4))}万元"
        return f"{sign}{n}元"
    dec = Decimal(amount.numerator) / Decimal(amount.denominator)
    return f"{sign}{dec.quantize(Decimal('0.01'))}元"


def format_percent(value) -> str:
    """Decimal('50') → '50%', Decimal('0.6') → '0.6%'."""
    return f"{_plain(_to_fraction(value))}%"


def format_rate(rate: Fraction, written: str | None = None) -> str:
    """A rate as the rules wrote it ('1/3') or as a percent ('50%')."""
    if written and "/" in written:
        return written
    return format_percent(rate * 100)


def format_number(value) -> str:
    return _plain(_to_fraction(value))
