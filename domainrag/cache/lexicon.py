"""Word lists for the cache guard: words that do not change what a question asks, and words that do.

Everything not listed as ignorable is treated as a critical term, so a missing entry here makes the cache
stricter (a missed paraphrase), never looser (a wrong hit). Packs extend these lists through
``[cache] ignore_terms`` and ``[cache] synonyms`` in pack.toml.
"""

from __future__ import annotations

# Interrogatives → the kind of answer asked for. Questions asking for different kinds never match.
QUESTION_TYPES: dict[str, str] = {
    **dict.fromkeys("什么 啥 哪些 哪个 哪种 哪类 哪 何 什么样 是什么 是啥".split(), "what"),
    **dict.fromkeys("怎么 怎样 如何 怎么样 咋 咋样 怎么办 怎么做 怎样做 如何做".split(), "how"),
    **dict.fromkeys("多少 几 多大 多高 多重 多少钱".split(), "how_much"),
    **dict.fromkeys("多久 多长 多长时间 多少年 多少天 多少时间".split(), "how_long"),
    **dict.fromkeys("何时 什么时候 啥时候 几时 何日".split(), "when"),
    **dict.fromkeys("哪里 哪儿 在哪 何地 何处 在哪里".split(), "where"),
    **dict.fromkeys("为什么 为何 为啥 怎么会".split(), "why"),
    **dict.fromkeys("谁 哪位 何人 哪个人".split(), "who"),
    **dict.fromkeys("是否 能否 可否 是不是 能不能 可不可以 会不会 要不要 需不需要 有没有 应不应该 该不该 用不用".split(), "whether"),
    # English (``how much``/``how long`` and initial auxiliaries are recognised in guard.py)
    **dict.fromkeys("what which".split(), "what"),
    "how": "how", "when": "when", "where": "where", "why": "why", "who": "who", "whom": "who", "whether": "whether",
}
YES_NO_PARTICLES = frozenset("吗 么".split())
EN_AUXILIARIES = frozenset("is are was were am do does did can could may might must shall should will would has have had".split())
EN_HOW_SUFFIX = {"much": "how_much", "many": "how_much", "long": "how_long", "old": "how_much", "often": "how_much"}

# Modality changes the legal meaning (可以 = may, 应当 = shall): it must agree.
MODALS: dict[str, str] = {
    **dict.fromkeys("可以 能 能够 可 能否 可否 可不可以 能不能 can could may might allowed permitted".split(), "may"),
    **dict.fromkeys("应当 应该 应 必须 需要 需 要 须 务必 需不需要 要不要 应不应该 该不该 must should shall need needs required".split(), "must"),
}
EN_MUST_PHRASES = ("have to", "has to", "had to", "need to", "needs to", "required to")

NEGATIONS = frozenset(
    "不 没 没有 无 未 非 别 勿 莫 否 不得 不能 不可 不可以 不要 不用 不必 无需 无须 不需要 不应 不应当 不会 未曾 并非 "
    "not no never without cannot none nor".split()
)

# Prepositions that mark who does what to whom: terms on different sides of one must keep their order.
ROLE_MARKERS = frozenset("向 对 给 被 把 由 替 让 将 从 到 往 比 叫 受 令 使".split())

# Words that carry no content of their own: particles, pronouns, politeness, generic nouns and light verbs.
ZH_IGNORABLE = frozenset(
    """
    的 地 得 了 着 过 呢 吧 啊 呀 嘛 哦 呗 啦 之 所 而 且 并 及 和 与 或 或者 还是 以及 跟 同
    是 有 在 为 会 就 都 也 还 又 再 才 便 即 则 乃 呢 来 去 到底 究竟 可能 一般来说 通常 比较 很 非常 特别 挺 相当
    这 那 这个 那个 这些 那些 这种 那种 这样 那样 该 此 其 它 它们 自己 大家 人家
    请问 请 问 问一下 一下 告诉 想 想要 想问 想知道 知道 了解 咨询 帮 帮忙 麻烦 谢谢 求 求助 请教 能否告知
    具体 相关 有关 关于 方面 问题 情况 内容 意思 意义 含义 定义 规定 条文 法律 法律上 是指 指 指的是 所谓 叫做 称为
    中 里 里面 内 当中 之中 方面 时 时候 的话 来说 而言
    按照 根据 依据 依照 按 依 据 以 于 对于 关于 针对
    """.split()
)
EN_IGNORABLE = frozenset(
    """
    a an the this that these those there here it its it's
    be been being am is are was were do does did doing done have has had having
    of to in on at by for with from about as into onto than then so such and or but if also just very really
    please tell know want would like could explain describe meaning mean means definition define defined
    s 's any some there's what's okay ok general generally usually typically normally
    """.split()
)

# Ordinary-language synonyms that never change the question (left: variant, right: canonical form).
SYNONYMS: dict[str, str] = {
    "以后": "后", "之后": "后", "过后": "后", "以前": "前", "之前": "前",
    "负": "承担", "担负": "承担", "负担": "承担",
    "惩罚": "处罚", "处刑": "处罚", "判刑": "处罚", "判处": "处罚", "被判": "处罚", "判": "处罚", "量刑": "处罚",
    "服用": "吃", "服": "吃", "吃药": "吃",
    "病人": "患者", "病患": "患者", "情形": "情况",
    "小孩": "儿童", "孩子": "儿童", "小孩子": "儿童", "儿童们": "儿童",
    "缴纳": "交", "缴": "交", "交纳": "交", "缴交": "交",
    "每日": "每天", "每一天": "每天",
    "偷": "盗窃", "偷窃": "盗窃", "stealing": "theft", "steal": "theft",
}

# Fixed phrases rewritten before segmentation, so jieba sees one canonical form.
PHRASES: dict[str, str] = {
    "什么时候": "何时", "啥时候": "何时", "多长时间": "多久", "多少时间": "多久", "什么样": "什么",
    "情况下": "情况", "情形下": "情形", "前提下": "前提", "法律上": "法律",  # 上/下 alone stay critical
}

# Who does what to whom: the sequence of persons must agree when both questions name any (他欠我 ≠ 我欠他).
PERSONS: dict[str, str] = {
    **dict.fromkeys("我 我们 咱 咱们 本人 i me my mine we us our ours myself".split(), "1"),
    **dict.fromkeys("你 你们 您 you your yours yourself".split(), "2"),
    **dict.fromkeys("他 她 他们 她们 对方 he him his she her they them their theirs".split(), "3"),
}

# Words that contain a numeral character but are not numbers.
NOT_NUMBERS = (
    "一般", "一定", "一起", "一些", "一切", "一直", "一样", "统一", "唯一", "同一", "一旦", "万一", "一律", "一并",
    "一经", "一下", "一点", "千万", "进一步", "一致", "一共", "一时", "一向", "一再", "一贯", "十分", "百姓", "万分",
    "一概", "一同", "一方面", "一面", "不一", "专一", "一审", "二审", "一把手", "三思", "一手", "一览", "一体",
)
