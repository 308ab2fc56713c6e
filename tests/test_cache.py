"""The semantic cache on its own: paraphrases hit, near-misses never do, several processes share it safely."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from domainrag.cache.guard import QuestionGuard
from domainrag.cache.quantities import extract_quantities
from domainrag.errors import ConfigError

PAIRS = [json.loads(line) for line in (Path(__file__).parent / "data" / "cache_pairs.jsonl").read_text(encoding="utf-8").splitlines()]
PARAPHRASES = [p for p in PAIRS if p["kind"] == "paraphrase"]
NEAR_MISSES = [p for p in PAIRS if p["kind"] == "near_miss"]


def _same_text(a: str, b: str) -> bool:
    return re.sub(r"\W", "", a) == re.sub(r"\W", "", b)


@pytest.fixture(scope="module")
def embedder():
    from domainrag.embed import get_embedder

    return get_embedder("default")


@pytest.fixture(scope="module")
def pair_cache(embedder, tmp_path_factory: pytest.TempPathFactory):
    """A real GPTCache (SQLite + faiss) holding one answer per first question of every pair."""
    from domainrag.cache.semantic import CacheSettings, SemanticCache

    cache = SemanticCache(tmp_path_factory.mktemp("pairs"), embedder, CacheSettings())
    anchors = sorted({p["a"] for p in PAIRS})
    cache.store_many([(a, {"answer": f"answer to {a}"}) for a in anchors])
    assert cache.count() == len(anchors)
    return cache


def test_the_pair_set_is_big_and_varied() -> None:
    assert len(PARAPHRASES) >= 40 and len(NEAR_MISSES) >= 40
    assert {p["domain"] for p in PAIRS} == {"law", "medical", "finance"} and {p["lang"] for p in PAIRS} == {"zh", "en"}


def test_near_misses_never_hit(pair_cache) -> None:
    false_hits = [(p["b"], hit.question) for p in NEAR_MISSES if (hit := pair_cache.lookup(p["b"])) is not None]
    assert false_hits == []


def test_paraphrases_hit_their_own_answer(pair_cache) -> None:
    hits, wrong = 0, []
    for p in PARAPHRASES:
        hit = pair_cache.lookup(p["b"])
        if hit is None:
            continue
        if not (_same_text(hit.question, p["a"]) or _same_text(hit.question, p["b"])):
            wrong.append((p["b"], hit.question))
        assert hit.answer["answer"] == f"answer to {hit.question}"
        assert pair_cache.settings.threshold <= hit.similarity <= 1.0
        hits += 1
    assert wrong == []
    assert hits / len(PARAPHRASES) >= 0.75, f"paraphrase hit rate {hits}/{len(PARAPHRASES)}"


@pytest.mark.parametrize("a, b", [
    ("盗窃罪怎么判刑？", "抢劫罪怎么判刑？"),
    ("刑法第264条规定了什么？", "刑法第263条规定了什么？"),
    ("盗窃5,000元会怎么处罚？", "盗窃50,000元会怎么处罚？"),
    ("阿司匹林有哪些副作用？", "布洛芬有哪些副作用？"),
    ("2023年个人所得税专项附加扣除标准是多少？", "2019年个人所得税专项附加扣除标准是多少？"),
    ("丈夫可以向妻子要求支付抚养费吗？", "妻子可以向丈夫要求支付抚养费吗？"),
    ("自首的可以从轻处罚吗？", "自首的应当从轻处罚吗？"),
    ("哪些情形应当追究刑事责任？", "哪些情形不追究刑事责任？"),
])
def test_guard_names_the_detail_that_differs(a: str, b: str) -> None:
    guard = QuestionGuard()
    assert guard.mismatch(a, b) is not None and guard.mismatch(b, a) is not None
    assert guard.mismatch(a, a) is None


def test_quantities_are_normalised() -> None:
    def q(text: str) -> tuple[str, ...]:
        return extract_quantities(text)[0]

    assert q("刑法第二百六十四条") == q("刑法第264条") == ("264条",)
    assert q("5,000元") == q("五千元") == q("5000块") == ("5000元",)
    assert q("5万元") == q("五万元") == q("50,000元") != q("5,000元")
    assert q("二〇二〇年") == q("2020年") and q("百分之五") == q("5%") and q("三个月") != q("三年")
    assert q("一般纳税人") == () and q("千万不要") == ()


def test_pack_cache_settings_are_checked(tmp_path: Path) -> None:
    from domainrag.cache.semantic import CacheSettings
    from domainrag.packs import load_pack

    (tmp_path / "pack.toml").write_text('[pack]\nname = "p"\n[cache]\nthreshold = 0.9\nsynonyms = [["税", "税款"]]\n',
                                        encoding="utf-8")
    settings = CacheSettings.from_pack(load_pack(tmp_path))
    assert settings.threshold == 0.9 and settings.guard().same_question("要交多少税？", "要交多少税款？")
    for bad in ("threshold = 2", 'vector = "redis"', "treshold = 0.9"):
        (tmp_path / "pack.toml").write_text(f'[pack]\nname = "p"\n[cache]\n{bad}\n', encoding="utf-8")
        with pytest.raises(ConfigError, match=r"\[cache\]"):
            CacheSettings.from_pack(load_pack(tmp_path))


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from domainrag.cache.semantic import CacheSettings, SemanticCache
    from domainrag.embed import get_embedder

    folder, name, count, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    cache = SemanticCache(folder, get_embedder("default"), CacheSettings())
    (go.parent / f"ready-{name}").touch()
    while not go.exists():
        time.sleep(0.01)
    for i in range(count):
        question = f"刑法第{i + 1}条对{name}规定了什么？"
        assert cache.store(question, {"answer": f"{name}-{i}"}), question
""")


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(embedder, tmp_path: Path) -> None:
    from domainrag.cache.semantic import CacheSettings, SemanticCache

    folder, go, count = tmp_path / "shared", tmp_path / "go", 12
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(folder), name, str(count), str(go)], env=env,
                                stderr=subprocess.PIPE, text=True) for name in ("甲方", "乙方")]
    deadline = time.monotonic() + 600
    while not all((tmp_path / f"ready-{n}").exists() for n in ("甲方", "乙方")):
        assert all(w.poll() is None for w in writers), "a writer died while starting"
        assert time.monotonic() < deadline, "the writers did not start within 10 minutes"
        time.sleep(0.05)
    go.touch()  # both writers are loaded: release them together
    for writer in writers:
        _, stderr = writer.communicate(timeout=600)
        assert writer.returncode == 0, stderr[-2000:]
    cache = SemanticCache(folder, embedder, CacheSettings())  # a third process's view, from disk
    assert cache.count() == 2 * count
    assert cache.gptcache.data_manager.v.count() == 2 * count
    for name in ("甲方", "乙方"):
        for i in range(count):
            hit = cache.lookup(f"刑法第{i + 1}条对{name}规定了什么？")
            assert hit is not None and hit.answer["answer"] == f"{name}-{i}" and hit.similarity > 0.99


@pytest.mark.slow
def test_milvus_vector_store_persists(embedder, tmp_path: Path) -> None:
    """The Milvus flavour (what a shared Milvus server gets), here on a Milvus Lite file of its own."""
    from domainrag.cache.semantic import CacheSettings, MilvusTarget, SemanticCache

    target = MilvusTarget(uri=str(tmp_path / "cache-milvus.db"), token=None, collection="domainrag_cache_test")
    cache = SemanticCache(tmp_path / "ns", embedder, CacheSettings(), target)
    assert cache.store("盗窃罪怎么判刑？", {"answer": "theft"})
    assert cache.store("抢劫罪怎么判刑？", {"answer": "robbery"})
    reopened = SemanticCache(tmp_path / "ns", embedder, CacheSettings(), target)
    assert reopened.lookup("盗窃罪如何判刑？").answer["answer"] == "theft"
    assert reopened.lookup("抢劫罪如何判刑？").answer["answer"] == "robbery"
    assert reopened.lookup("抢夺罪如何判刑？") is None


def test_a_repeated_question_is_looked_up_without_the_embedding_model(embedder, tmp_path: Path) -> None:
    """A question cached before is found with the vector GPTCache stored for it: a cache opened with a model that
    refuses to load still serves it, and loads the model only for a question it has not seen."""
    from domainrag.cache.semantic import CacheSettings, SemanticCache

    SemanticCache(tmp_path / "ns", embedder, CacheSettings()).store("盗窃罪怎么判刑？", {"answer": "theft"})
    loads: list[str] = []

    def model() -> object:
        loads.append("load")
        return embedder

    reopened = SemanticCache(tmp_path / "ns", model, CacheSettings())
    hit = reopened.lookup("盗窃罪怎么判刑？")
    assert hit is not None and hit.answer["answer"] == "theft" and hit.similarity == 1.0
    assert loads == []  # neither the faiss index (its dimension is in the file) nor the lookup needed the model
    paraphrase = reopened.lookup("盗窃罪如何判刑？")
    assert loads and paraphrase is not None and paraphrase.answer["answer"] == "theft"


def test_the_guard_passes_an_identical_question_without_segmenting_it() -> None:
    """Identical questions (after normalisation) have one fingerprint; the guard says so without jieba's tagger."""
    code = ("import sys; from domainrag.cache.guard import QuestionGuard; g = QuestionGuard(); "
            "assert g.same_question('盗窃罪数额较大的，处几年以下有期徒刑？', '盗窃罪数额较大的，处几年以下有期徒刑？'); "
            "assert g.same_question('What is the penalty for theft?', 'what is the penalty for theft?'); "
            "print('jieba.posseg' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
    assert not QuestionGuard().same_question("盗窃罪数额较大的，处几年以下有期徒刑？", "抢劫罪数额较大的，处几年以下有期徒刑？")
