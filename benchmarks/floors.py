"""How the answer chain's two floors split questions about a pack's subject from questions off it.

The keyword floor (``[retrieval] score_threshold``: some passage covers enough of the question's keywords) and the
similarity floor (``similarity_floor``: some chunk of the KB comes that near the question in meaning,
``DomainRAG.off_subject``); a question is answered when it passes both. Printed per question list: answered, and
how many each floor alone would let through. Each pack's floor was chosen looking at its first lists (its eval or
benchmark questions, short questions as users type them, questions off its subject); the held-out lists were written
before the floor was set and measured only with it.

    python benchmarks/floors.py --pack law|medical|finance [--uri URI --kb KB] [--json]

Without --uri the pack's sample corpus (domains/PACK/corpus) is ingested into a temporary KB first (law: ~5 min,
medical ~2 min, finance ~1 min on two cores). The law lists are also split by benchmarks/answer.py on the whole corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, pack_kb, print_result, quiet, shared_path  # noqa: E402

# Everyday questions the law pack should refuse ...
OFF_TOPIC = ["红烧肉的做法是什么？", "今天天气怎么样？", "Python 怎么读取 JSON 文件？", "感冒了应该吃什么药？",
             "世界杯冠军是哪个国家？", "怎样提高英语口语？", "How do I bake bread?", "手机没电了怎么办？",
             "怎么学习微积分？", "北京有哪些好玩的景点？", "狗狗为什么会掉毛？", "如何烤蛋糕？", "股票基金怎么选？",
             "如何减肥？", "怎么做番茄炒蛋？", "iPhone 和安卓哪个好？", "明天会下雨吗？", "如何写一首诗？",
             "猫咪不吃饭怎么办？", "电动车电池能用几年？"]
# Short legal questions as users type them, and more everyday ones: the law pack's similarity floor was chosen
# looking at these two lists (with OFF_TOPIC and LawBench) ...
LEGAL_SHORT = ["盗窃罪的立案标准是什么？", "盗窃公私财物数额较大的，应当如何处罚？", "离婚时夫妻共同财产怎么分割？",
               "劳动合同的试用期最长多久？", "交通事故责任怎么认定？", "酒驾会被判刑吗？", "公司拖欠工资怎么办？",
               "租房押金不退可以起诉吗？", "遗嘱需要公证才有效吗？", "未成年人犯罪要负刑事责任吗？", "正当防卫的条件是什么？",
               "借钱不还能报警吗？", "商标侵权怎么赔偿？", "网购买到假货怎么维权？", "房屋买卖合同违约怎么办？", "诉讼时效是多久？",
               "工伤认定需要什么材料？", "醉驾怎么处罚", "合同无效的情形有哪些", "什么是善意取得", "敲诈勒索罪判几年",
               "行政复议的期限", "个人所得税怎么缴纳？", "食品安全事故谁负责？", "父母有赡养义务吗", "抚养费标准是多少",
               "被狗咬了谁赔偿？", "How is theft punished under Chinese criminal law?",
               "What is the statute of limitations for civil claims?", "婚前财产婚后归谁"]
OFF_TOPIC_MORE = ["今晚吃什么好？", "怎么养多肉植物？", "周杰伦有哪些好听的歌？", "篮球怎么投篮更准？", "咖啡和茶哪个更提神？",
                  "电脑蓝屏怎么办？", "如何学好日语？", "火锅底料怎么炒？", "马拉松怎么训练？", "推荐几本科幻小说",
                  "What is the capital of France?", "怎么拍出好看的照片？", "宝宝发烧怎么办？", "如何种西红柿？",
                  "太阳系有几颗行星？", "怎么选购笔记本电脑？", "Excel 怎么求和？", "头疼怎么缓解？", "去日本旅游要准备什么？",
                  "吉他怎么调音？"]
# ... and these two were written before it was set, and measured only with it: its held-out check.
LEGAL_HELD_OUT = ["试用期可以随便辞退员工吗？", "高空抛物伤人谁负责？", "夫妻一方欠的债另一方要还吗？", "物业费不交会怎样？",
                  "什么情况下可以解除劳动合同？", "故意伤害罪怎么量刑？", "肖像权被侵犯怎么办？", "无证驾驶怎么处罚？",
                  "继承权的顺序是怎样的？", "拾到东西不还违法吗？", "加班费怎么计算？", "行贿罪的构成要件", "怎样申请劳动仲裁？",
                  "欠条和借条有什么区别？", "未满十八岁可以签合同吗？", "网络诈骗怎么立案？", "产品质量问题造成损害由谁赔偿？",
                  "违章建筑可以强拆吗？", "专利保护期多长？", "环境污染的法律责任"]
OFF_TOPIC_HELD_OUT = ["怎么做红烧鱼？", "跑步膝盖疼怎么办？", "如何提高睡眠质量？", "小狗打疫苗要注意什么？", "怎么煮出好吃的米饭？",
                      "月亮为什么有阴晴圆缺？", "如何快速背单词？", "洗衣机有异味怎么清洗？", "冬天去哪里旅游好？", "怎样画素描？",
                      "手机内存不够怎么清理？", "鱼缸的水多久换一次？", "怎样挑选西瓜？", "钢琴初学者怎么练习？", "如何缓解眼睛疲劳？",
                      "围棋的基本规则是什么？", "牛奶和豆浆哪个更有营养？", "怎么折纸飞机？", "台风是怎么形成的？",
                      "如何减少手机使用时间？"]

# The medical pack (written before any of its similarities was measured): questions as users type them and questions
# off its subject (law, everyday life), its floor chosen looking at these two lists (with the pack's eval set) ...
MEDICAL_SHORT = ["感冒发烧怎么办？", "高血压吃什么药好？", "糖尿病的早期症状有哪些？", "胃痛是什么原因引起的？", "孩子咳嗽老不好怎么办？",
                 "失眠多梦怎么调理？", "月经推迟是怎么回事？", "腰椎间盘突出怎么治疗？", "头痛头晕是什么原因？", "皮肤过敏起红疹怎么办？",
                 "乙肝会传染吗？", "怀孕初期有什么症状？", "痔疮出血怎么办？", "阴道炎怎么治疗？", "前列腺炎有哪些症状？",
                 "湿疹反复发作怎么办？", "牙龈出血是什么原因？", "甲状腺结节严重吗？", "宝宝腹泻怎么办？", "颈椎病怎么缓解？",
                 "早泄怎么治疗？", "痛风能吃什么？", "贫血吃什么补血？", "心慌胸闷是怎么回事？", "脂肪肝能治好吗？",
                 "尿频尿急是什么原因？", "口腔溃疡反复发作怎么办？", "疫苗接种后发烧正常吗？", "抗生素可以长期吃吗？", "医生开处方需要什么资格？"]
NOT_MEDICAL = ["盗窃罪怎么判刑？", "离婚财产怎么分割？", "公司拖欠工资怎么办？", "交通事故责任怎么认定？", "租房押金不退可以起诉吗？",
               "红烧肉的做法是什么？", "今天天气怎么样？", "Python 怎么读取 JSON 文件？", "世界杯冠军是哪个国家？", "怎样提高英语口语？",
               "手机没电了怎么办？", "怎么学习微积分？", "北京有哪些好玩的景点？", "股票基金怎么选？", "怎么做番茄炒蛋？",
               "iPhone 和安卓哪个好？", "如何写一首诗？", "电动车电池能用几年？", "周杰伦有哪些好听的歌？", "篮球怎么投篮更准？",
               "怎么养多肉植物？", "个人所得税怎么缴纳？", "买房贷款利率是多少？", "汽车保养多久一次？", "怎么写简历？",
               "猫咪不吃饭怎么办？", "狗狗为什么会掉毛？", "高考志愿怎么填？", "如何学习弹吉他？", "信用卡逾期会怎样？"]
# ... and its held-out check.
MEDICAL_HELD_OUT = ["拉肚子吃什么药？", "小孩发烧39度怎么办？", "血糖高有什么危害？", "经常便秘怎么办？", "膝盖疼是怎么回事？",
                    "眼睛干涩怎么办？", "脱发严重怎么治？", "胃酸反流怎么调理？", "带状疱疹会传染吗？", "哮喘能根治吗？",
                    "扁桃体发炎吃什么药？", "肾结石有什么症状？", "痛经怎么缓解？", "荨麻疹怎么治疗？", "孕妇可以吃感冒药吗？",
                    "鼻炎老是打喷嚏怎么办？", "血压低头晕怎么办？", "骨质疏松吃什么好？", "打完疫苗可以洗澡吗？", "药品过期了还能吃吗？"]
NOT_MEDICAL_HELD_OUT = ["怎么做红烧鱼？", "怎么煮出好吃的米饭？", "劳动合同的试用期最长多久？", "遗嘱需要公证才有效吗？", "醉驾怎么处罚？",
                        "如何给手机贴膜？", "上海到杭州怎么坐高铁？", "怎么学好数学？", "如何挑选西瓜？", "电脑开机很慢怎么办？",
                        "基金定投是什么意思？", "怎么申请专利？", "明年春节是几号？", "怎么钓鱼？", "如何装修小户型？",
                        "奥运会多少年举办一次？", "怎么做PPT？", "车牌摇号怎么申请？", "唐诗有哪些名句？", "商标侵权怎么赔偿？"]


# The finance pack (written before any of its scores was measured), likewise: its own questions and others, then
# held-out lists. Its embedding (all-MiniLM-L6-v2, English) places them alike, so it has no similarity floor, and the
# keyword floor is the law pack's, unchanged.
FINANCE_SHORT = ["基金定投怎么操作？", "股票涨跌停板是多少？", "银行存款利率是多少？", "什么是市盈率？", "债券和股票有什么区别？",
                 "保险合同的犹豫期有多久？", "信用卡逾期会怎样？", "商业银行的注册资本最低多少？", "什么是洗钱？", "期货交易有什么风险？",
                 "上市公司要披露哪些信息？", "内幕交易怎么处罚？", "汇票和本票有什么区别？", "信托财产有什么特点？", "基金净值怎么计算？",
                 "央行的货币政策工具有哪些？", "保险公司破产了保单怎么办？", "银行可以查我的账户吗？", "证券公司的设立条件", "什么是衍生品？",
                 "私募基金的合格投资者标准", "支票可以背书转让吗？", "理财产品保本吗？", "银行业监管机构有哪些职责？", "股票质押是什么意思？",
                 "怎么计算复利？", "GDP增长率怎么算？", "市净率高说明什么？", "可转债是什么？", "人身保险的受益人怎么指定？"]
NOT_FINANCE = ["盗窃罪怎么判刑？", "离婚财产怎么分割？", "交通事故责任怎么认定？", "红烧肉的做法是什么？", "今天天气怎么样？",
               "Python 怎么读取 JSON 文件？", "世界杯冠军是哪个国家？", "怎样提高英语口语？", "感冒发烧怎么办？", "北京有哪些好玩的景点？",
               "怎么做番茄炒蛋？", "如何写一首诗？", "周杰伦有哪些好听的歌？", "篮球怎么投篮更准？", "怎么养多肉植物？",
               "高血压吃什么药好？", "汽车保养多久一次？", "怎么写简历？", "猫咪不吃饭怎么办？", "高考志愿怎么填？",
               "如何学习弹吉他？", "失眠多梦怎么调理？", "怎么学习微积分？", "手机没电了怎么办？", "正当防卫的条件是什么？",
               "孩子咳嗽老不好怎么办？", "电脑蓝屏怎么办？", "如何种西红柿？", "太阳系有几颗行星？", "吉他怎么调音？"]
# ... and its held-out check.
FINANCE_HELD_OUT = ["货币基金安全吗？", "什么是做空？", "银行贷款需要什么条件？", "证券欺诈发行怎么处罚？", "保险理赔需要什么材料？",
                    "基金赎回要多久到账？", "什么是期权？", "外汇储备有什么作用？", "票据丢失了怎么办？", "大额现金交易要报告吗？",
                    "ETF是什么？", "股息率怎么计算？", "存款保险制度是什么？", "公司债券发行条件", "融资融券有什么风险？",
                    "银行理财和基金哪个好？", "信托公司能吸收存款吗？", "保险费率由谁确定？", "国债收益率是多少？", "什么是操纵证券市场？"]
NOT_FINANCE_HELD_OUT = ["怎么做红烧鱼？", "怎么煮出好吃的米饭？", "遗嘱需要公证才有效吗？", "醉驾怎么处罚？", "如何给手机贴膜？",
                        "上海到杭州怎么坐高铁？", "如何挑选西瓜？", "电脑开机很慢怎么办？", "明年春节是几号？", "怎么钓鱼？",
                        "奥运会多少年举办一次？", "怎么做PPT？", "唐诗有哪些名句？", "拉肚子吃什么药？", "膝盖疼是怎么回事？",
                        "月亮为什么有阴晴圆缺？", "如何快速背单词？", "洗衣机有异味怎么清洗？", "怎样画素描？", "围棋的基本规则是什么？"]

def floor_split(rag, question_sets: dict[str, list[str]]) -> dict[str, str]:
    """How many questions of each set the answer chain lets through: past the keyword floor (``[retrieval]
    score_threshold``: some passage covers enough of the question's keywords), past the similarity floor
    (``similarity_floor``: some chunk comes that near in meaning, ``DomainRAG.off_subject``), and past both (what is
    answered)."""
    from domainrag.relevance import above_floor

    floor = rag.pack.retrieval.score_threshold
    split = {"score_threshold": str(floor), "similarity_floor": str(rag.similarity_floor)}
    for name, questions in question_sets.items():
        keywords = similar = both = 0
        for question in questions:
            hits = rag.search(question)
            by_keywords = bool(above_floor(question, hits, floor))
            by_similarity = not rag.off_subject(question)
            keywords, similar = keywords + by_keywords, similar + by_similarity
            both += by_keywords and by_similarity
        split[name] = f"answered {both}/{len(questions)} (keyword floor {keywords}, similarity floor {similar})"
    return split


def eval_questions(pack: str, name: str) -> list[str]:
    """The questions of the pack's eval set ``domains/PACK/eval/NAME.jsonl``."""
    lines = (REPO / "domains" / pack / "eval" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def pack_question_sets(pack: str) -> dict[str, list[str]]:
    """The pack's question lists by name: its own questions first, then those off its subject."""
    if pack == "medical":
        return {"eval_medical_qa": eval_questions("medical", "medical_qa"),
                "medical_short": MEDICAL_SHORT, "medical_held_out": MEDICAL_HELD_OUT,
                "not_medical": NOT_MEDICAL, "not_medical_held_out": NOT_MEDICAL_HELD_OUT}
    if pack == "finance":
        return {"eval_fineval_rigor": eval_questions("finance", "fineval_rigor"),
                "finance_short": FINANCE_SHORT, "finance_held_out": FINANCE_HELD_OUT,
                "not_finance": NOT_FINANCE, "not_finance_held_out": NOT_FINANCE_HELD_OUT}
    lawbench = shared_path("law", "lawbench", "3-2.dev.json")
    sets = {"lawbench_3-2": [row["question"] for row in json.loads(lawbench.read_text(encoding="utf-8"))]} if lawbench else {}
    return {**sets, "legal_short": LEGAL_SHORT, "legal_held_out": LEGAL_HELD_OUT, "off_topic": OFF_TOPIC,
            "off_topic_more": OFF_TOPIC_MORE, "off_topic_held_out": OFF_TOPIC_HELD_OUT}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", choices=("law", "medical", "finance"), default="medical")
    parser.add_argument("--uri", default=None, help="Milvus URI of an existing KB (default: the sample corpus, ingested)")
    parser.add_argument("--kb", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    rag, corpus = pack_kb(args.pack, args.uri, args.kb, REPO / "domains" / args.pack / "corpus", f"{args.pack}_sample")
    result = {"pack": args.pack, "corpus": corpus, "chunks": rag.store.count(rag.kb),
              **floor_split(rag, pack_question_sets(args.pack))}
    print_result(result, args.json, 22)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
