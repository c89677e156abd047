"""Example questions people ask: shown as clickable chips in the chat tab and cycled by the load test (no imports)."""

# Shown in the 智能问答 tab.
CHAT_EXAMPLES = [
    "厦门企业去年购买算力服务花了80万元，最高能补多少？",
    "思明区智改数转评为三级，能奖励多少？",
    "厦门2023年度人工智能补助申报截止到什么时候？",
    "厦门和思明对买算力的补助有什么不同？",
    "安徽降低算力使用成本的补助给谁？",
    "厦门的人工智能若干措施现在还有效吗？",
]

# The load test's mix: the chat examples plus look-ups, refusals and definitions.
LOAD_QUESTIONS = CHAT_EXAMPLES + [
    "专精特新小巨人在厦门有什么奖励？",
    "泉州软件优质产品能补多少钱？",
    "深圳有什么人工智能补贴？",
    "2023年度指什么时间段？",
    "思明区算法备案有奖励吗？",
    "厦门研发投入补助需要什么条件？",
]
