"""Chinese money / percent / count parsing is exact (int or Decimal, never float) and fails with Chinese messages."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from tools.errors import MoneyParseError
from tools.money import (find_money, find_percents, format_percent, format_yuan, parse_count, parse_money,
                         parse_number, parse_percent, parse_pflops, parse_rate)


@pytest.mark.parametrize("text, expected", [
    ("30万", 300000),
    ("30万元", 300000),
    ("三十万元", 300000),
    ("1.5亿", 150000000),
    ("2,000万元", 20000000),
    ("2，000万元", 20000000),
    ("0.8万", 8000),
    ("5000元", 5000),
    ("1千万", 10000000),
    ("一千万", 10000000),
    ("两百万", 2000000),
    ("二十五万", 250000),
    ("一百零五万", 1050000),
    ("3万5千", 35000),
    ("1亿5000万", 150000000),
    ("十万", 100000),
    ("一点五亿", 150000000),
    ("¥300000", 300000),
    ("300000", 300000),
    ("人民币50万元", 500000),
    (" 80 万 ", 800000),
    ("1万亿", 10**12),
])
def test_parse_money_forms(text, expected):
    value = parse_money(text)
    assert value == expected
    assert isinstance(value, int)


def test_parse_money_keeps_cents_exact():
    """123.45元 stays Decimal('123.45'); 0.1万 + 0.2万 has no binary-float error."""
    assert parse_money("123.45元") == Decimal("123.45")
    assert isinstance(parse_money("123.45元"), Decimal)
    assert parse_money("0.1万") + parse_money("0.2万") == 3000


def test_parse_money_non_string_inputs():
    assert parse_money(300000) == 300000
    assert parse_money(Decimal("80000")) == 80000
    assert parse_money(300000.0) == 300000  # JSON floats go through repr, not binary arithmetic
    with pytest.raises(MoneyParseError):
        parse_money(True)


@pytest.mark.parametrize("text, fragment", [
    ("-5万", "负数"),
    ("负30万", "负数"),
    ("abc", "无法识别金额"),
    ("", "为空"),
    ("万元", "缺少数字"),
    ("100P", "不是金额"),
    ("50家", "不是金额"),
    ("30%", "不是金额"),
    ("1万亿零1元", "超过1万亿元"),
    ("2万亿", "超过1万亿元"),
])
def test_parse_money_rejects(text, fragment):
    with pytest.raises(MoneyParseError) as info:
        parse_money(text)
    assert fragment in info.value.message_zh


@pytest.mark.parametrize("text, expected", [
    ("50%", Decimal("50")),
    ("50％", Decimal("50")),
    ("百分之五十", Decimal("50")),
    ("百分之0.6", Decimal("0.6")),
    ("0.6%", Decimal("0.6")),
    ("五成", Decimal("50")),
    ("5成", Decimal("50")),
    ("千分之六", Decimal("0.6")),
    ("25", Decimal("25")),
    ("-10%", Decimal("-10")),
    ("下降10%", Decimal("-10")),
    ("增长30%", Decimal("30")),
])
def test_parse_percent_forms(text, expected):
    assert parse_percent(text) == expected


def test_parse_percent_rejects_text():
    with pytest.raises(MoneyParseError) as info:
        parse_percent("很多")
    assert "百分比" in info.value.message_zh


@pytest.mark.parametrize("text, expected", [
    ("50家", 50), ("五十家", 50), ("5", 5), ("第3名", 3), ("前5名", 5), ("排名第2", 2), ("3个", 3), (7, 7),
])
def test_parse_count_forms(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("text, fragment", [("-3家", "负数"), ("2.5家", "整数"), ("几家", "无法识别")])
def test_parse_count_rejects(text, fragment):
    with pytest.raises(MoneyParseError) as info:
        parse_count(text)
    assert fragment in info.value.message_zh


def test_parse_pflops_and_number():
    assert parse_pflops("100P") == 100
    assert parse_pflops("400PFlops") == 400
    assert parse_pflops("100PFlops(FP16)") == 100
    assert parse_number("两百") == 200
    with pytest.raises(MoneyParseError):
        parse_number("-1")


def test_parse_rate_exact():
    assert parse_rate("50%") == Fraction(1, 2)
    assert parse_rate("0.6%") == Fraction(3, 500)
    assert parse_rate("1/3") == Fraction(1, 3)


def test_find_money_in_sentence():
    """Amounts with a money unit are found with their spans; years, counts and 100P are not money."""
    text = "2023年我们买算力花了80万元，服务企业超过50家，建了100P的智算中心，千万不要忘记还有1.5亿营收"
    found = find_money(text)
    assert [(m.raw, m.value_yuan) for m in found] == [("80万元", 800000), ("1.5亿", 150000000)]
    first = found[0]
    assert text[first.start:first.end] == "80万元"


def test_find_money_forms_and_chinese_numerals():
    found = find_money("研发费用三十万元，去年2,000万元，奖励5000元")
    assert [m.value_yuan for m in found] == [300000, 20000000, 5000]


def test_find_percents_in_sentence():
    text = "按实际支出费用最高50%给予补助，增速百分之二十五，五成，0.6%"
    found = find_percents(text)
    assert [m.value for m in found] == [Decimal("50"), Decimal("25"), Decimal("50"), Decimal("0.6")]
    assert text[found[1].start:found[1].end] == "百分之二十五"


@pytest.mark.parametrize("value, text", [
    (400000, "40万元"), (5000, "5000元"), (12345, "12345元"), (15000, "1.5万元"), (100000000, "1亿元"),
    (150000000, "1.5亿元"), (50000000, "5000万元"), (333333, "333333元"), (0, "0元"),
    (Decimal("123.4"), "123.40元"), (Fraction(1000001, 3), "333333.67元"),
])
def test_format_yuan(value, text):
    assert format_yuan(value) == text


def test_format_percent():
    assert format_percent(Decimal("50")) == "50%"
    assert format_percent(Decimal("0.6")) == "0.6%"


def test_a_list_number_is_not_the_head_of_a_range():
    """“2. -3000万元” in a numbered step list is one figure, not a range 2万–3000万; “20-50万元” still is a range."""
    assert [f.value_yuan for f in find_money("  2. -3000万元 × 0.6%")] == [30_000_000]
    assert [f.value_yuan for f in find_money("20-50万元")] == [200_000, 500_000]
