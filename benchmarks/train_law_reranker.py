"""Train the law pack's learned reranker (domains/law/reranker/) and print its cross-validated recall.

1. **Embedding**: a sentence-transformers ``StaticEmbedding`` with its own Unigram tokenizer, trained with
   ``MultipleNegativesRankingLoss`` on pairs mined from the corpus itself (no benchmark question is used):
   an article citing another law's article (《X法》第N条) → the cited article; an article citing 本法第N条 →
   that article; and inverse cloze (a sentence of an article → the rest of it). Each pair carries hard
   negatives from the positive's own law: one of its ten nearest articles in character bigrams (the
   look-alikes BM25 ranks beside it, which the reranker has to tell apart) and one at random.
2. **Linear model** over the reranker features (domainrag/rerank.py) of the top ``depth`` hybrid candidates of each
   LawBench 3-2 dev question: a listwise fit (per question, a softmax over its candidates with the gold article as
   the target; L2 ``LISTWISE_L2``), then Platt scaling so that the model's sigmoid is a probability. It prints
   recall@1/5 of the fused order and of the reranked order under 5-fold cross-validation (questions split by
   fold, five shuffles): the figure to expect on unseen questions. The shipped weights are fit on all of them.

Needs the whole law/laws corpus in a KB built with the law pack (benchmarks/retrieval.py builds one); the features
include the KB's own dense ranking (multilingual-e5-small for the pack's KBs), so fit the weights on such a KB. A new
embedding (~18 minutes on two cores) ends the run; the weights are then fit with ``--reuse-embedding`` (~30 s):

    python benchmarks/train_law_reranker.py [--uri /tmp/bench-home/milvus.db] [--kb laws] [--out domains/law/reranker]
    python benchmarks/train_law_reranker.py --reuse-embedding [--uri …] [--kb laws] [--out domains/law/reranker]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, open_law_kb, quiet, shared_path  # noqa: E402
from retrieval import hit_matches, lawbench_items  # noqa: E402

if TYPE_CHECKING:
    from domainrag.hit import Hit

# Column order of the fit (it shapes the solver's path; the shipped weights were fit in this order).
FEATURES = ("log_rank", "grams_score", "grams_rr", "words_score", "words_rr", "preferred", "log_length",
            "general_section", "liability_section", "log_article", "sim_gap", "sim_rr", "doc_share",
            "doc_score_share", "dense_rr", "dense_score", "dense_sim_gap", "dense_sim_rr", "keyword_cover",
            "keyword_cover_gap")
# The listwise fit's L2 on standardised features. Cross-validated R@1 stays within 0.672-0.678 for any value from 0 to
# 0.3 and falls above it (1: 0.666, 10: 0.642); chosen by an inner cross-validation inside each outer fold, the
# procedure scores 0.676 (README "Learned reranker").
LISTWISE_L2 = 0.1
_NUM = "[零〇一二三四五六七八九十百千两]+"  # Chinese article numbers only (narrower than numerals.NUMERAL)
_ARTICLE_HEAD = re.compile(rf"^第{_NUM}条\s*")
_TAIL = r"(?:第[一二三四五六七八九十]+款)?(?:第[一二三四五六七八九十]+项)?(?:的规定|规定)?"


def body(row: Hit) -> str:
    """An article's text without its 第N条 label."""
    return _ARTICLE_HEAD.sub("", row.text)


def mine_pairs(rows: list[Hit], statute: re.Pattern[str], seed: int = 0,
               sentences_per_article: int = 3) -> list[tuple[str, str, int]]:
    """(query, passage, index of the passage's row) from the corpus: cross-references between the statutes
    (titles ``statute`` matches) and inverse cloze."""
    from domainrag.rerank import passage_text

    rng = random.Random(seed)
    statutes = {re.sub(r"^中华人民共和国", "", r.title): r.title for r in rows if statute.search(r.title)}
    article_row = {}
    for i, row in enumerate(rows):
        if _article(row):
            article_row.setdefault((row.title, _article(row)), i)
    names = "|".join(sorted(map(re.escape, statutes), key=len, reverse=True))
    cross = re.compile(rf"(?:依照|根据|违反|按照)?《?(?:中华人民共和国)?({names})》?第({_NUM})条{_TAIL}")
    own = re.compile(rf"(?:依照|根据|违反|按照)?本法第({_NUM})条{_TAIL}")
    references: list[tuple[str, int]] = []
    for i, row in enumerate(rows):
        text = body(row)
        for m in cross.finditer(text):
            cited = statutes[m.group(1)]
            j = article_row.get((cited, f"第{m.group(2)}条"))
            if cited != row.title and j is not None:
                references.append((text.replace(m.group(0), ""), j))
        if row.title in statutes.values():
            for m in own.finditer(text):
                j = article_row.get((row.title, f"第{m.group(1)}条"))
                if j is not None and j != i:
                    references.append((text.replace(m.group(0), ""), j))
    pairs = [(query, passage_text(rows[j]), j) for query, j in references] * 2
    for i, row in enumerate(rows):
        sentences = [s for s in re.split(r"(?<=[。；！？])", body(row)) if len(s) >= 10]
        rng.shuffle(sentences)
        for sentence in sentences[:sentences_per_article]:
            full = passage_text(row)
            pairs.append((sentence, full.replace(sentence, "") if rng.random() < 0.9 else full, i))
    print(f"pairs: {len(references)} cross-references (x2), {len(pairs) - 2 * len(references)} inverse cloze",
          file=sys.stderr)
    return pairs


def _article(row: Hit) -> str:
    return row.metadata.get("article") or ""


def articles_by_law(rows: list[Hit]) -> dict[str, list[int]]:
    """Law title → the row indexes of its articles."""
    by_law: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if _article(row):
            by_law.setdefault(row.title, []).append(i)
    return by_law


def same_law_articles(rows: list[Hit]) -> dict[int, list[int]]:
    """Row index of each article → the other articles of its law (another number and another text)."""
    return {i: [j for j in members if _article(rows[j]) != _article(rows[i]) and rows[j].text != rows[i].text]
            for members in articles_by_law(rows).values() for i in members}


def lexical_neighbours(rows: list[Hit], others: dict[int, list[int]], limit: int = 10) -> dict[int, list[int]]:
    """Row index of each article → the ``limit`` articles of ``others[i]`` nearest to it by character-bigram
    TF-IDF cosine: the look-alikes a BM25 ranking puts beside it."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer="char", ngram_range=(2, 2), sublinear_tf=True).fit_transform(
        [body(row) for row in rows])
    neighbours: dict[int, list[int]] = {}
    for members in articles_by_law(rows).values():
        similarity = (vectors[members] @ vectors[members].T).toarray()
        position = {j: k for k, j in enumerate(members)}
        for k, i in enumerate(members):
            if others[i]:
                neighbours[i] = sorted(others[i], key=lambda j: -similarity[k, position[j]])[:limit]
    return neighbours


def with_negatives(pairs: list[tuple[str, str, int]], rows: list[Hit], seed: int = 0) -> list[tuple[str, ...]]:
    """(query, passage, look-alike article, random article) for each pair whose passage's law has other articles;
    the rest stay (query, passage) and are trained in batches of their own."""
    from domainrag.rerank import passage_text

    rng = random.Random(seed)
    others = same_law_articles(rows)
    neighbours = lexical_neighbours(rows, others)
    out: list[tuple[str, ...]] = []
    for query, passage, j in pairs:
        if neighbours.get(j):
            out.append((query, passage, passage_text(rows[rng.choice(neighbours[j])]),
                        passage_text(rows[rng.choice(others[j])])))
        else:
            out.append((query, passage))
    return out


def train_embedding(rows: list[Hit], statute: re.Pattern[str], out: Path, dim: int, epochs: int,
                    batch_size: int = 256, lr: float = 0.05, seed: int = 0) -> None:
    """Tokenizer + StaticEmbedding trained on the mined pairs; saved (float16) to ``out``."""
    import torch
    from sentence_transformers import SentenceTransformer
    try:  # sentence-transformers 6 moved them; 3-5 have only the old paths
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:
        from sentence_transformers.losses import MultipleNegativesRankingLoss
        from sentence_transformers.models import StaticEmbedding
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from tqdm import tqdm

    from domainrag.rerank import passage_text

    torch.manual_seed(seed)
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                       pre_tokenizers.Digits(individual_digits=False)])
    trainer = trainers.UnigramTrainer(vocab_size=40000, max_piece_length=6, unk_token="[UNK]",
                                      special_tokens=["[PAD]", "[UNK]"], show_progress=False)
    tokenizer.train_from_iterator((passage_text(r) for r in rows), trainer)
    model = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=dim)], device="cpu")
    loss = MultipleNegativesRankingLoss(model)
    preprocess = getattr(model, "preprocess", None) or model.tokenize  # tokenize is deprecated in 6
    examples = with_negatives(mine_pairs(rows, statute, seed), rows, seed)
    rng = random.Random(seed)
    groups = [[e for e in examples if len(e) == width] for width in sorted({len(e) for e in examples})]
    steps = epochs * sum(len(group) // batch_size for group in groups)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / steps))
    with tqdm(total=steps, desc="embedding", unit="step", file=sys.stderr) as bar:
        for _ in range(epochs):
            batches = []
            for group in groups:  # a batch holds examples of one width: (query, passage[, negatives])
                rng.shuffle(group)
                batches += [group[start:start + batch_size] for start in range(0, len(group) - batch_size + 1,
                                                                                  batch_size)]
            rng.shuffle(batches)
            for batch in batches:
                value = loss([preprocess(list(column)) for column in zip(*batch)], None)
                optimizer.zero_grad()
                value.backward()
                optimizer.step()
                schedule.step()
                bar.update()
                bar.set_postfix(loss=f"{value.item():.3f}")
    model.half().save(str(out))
    (out / "README.md").unlink(missing_ok=True)  # the generated card; domains/law/reranker/README.md says what this is


def candidates(rag, items, reranker, depth: int):
    """Per question, in order: the question, its top ``depth`` fused candidates, their feature matrix and their 0/1
    labels (the gold article is the positive)."""
    import numpy as np
    from tqdm import tqdm

    for question, gold in tqdm(items, desc="features", file=sys.stderr):
        hits, legs = rag.retriever.fused(question, rag.retriever.candidates, rescore=depth)
        head = hits[:depth]
        features = reranker.features(question, head, legs)
        x = np.stack([features[name] for name in FEATURES], axis=1)
        y = np.array([hit_matches(hit, gold) for hit in head], dtype=int)
        yield question, head, x, y


def collect(rag, items, reranker, depth: int):
    """Per question: the feature matrix of its top ``depth`` fused candidates and their 0/1 labels."""
    return [(x, y) for _, _, x, y in candidates(rag, items, reranker, depth)]


def listwise_direction(groups, l2: float):
    """Weights of a conditional logit: per question, a softmax over its candidates' scores with the gold candidates as
    the target (what the reranker is for: put the asked-for article first), L2-penalised, fit by L-BFGS."""
    import numpy as np
    from scipy.optimize import minimize

    def loss_and_gradient(w):
        loss, gradient = 0.5 * l2 * (w @ w), l2 * w
        for x, gold in groups:
            scores = x @ w
            p = np.exp(scores - scores.max())
            p /= p.sum()
            gold_mass = p[gold].sum()
            loss -= np.log(gold_mass + 1e-12)
            target = np.where(gold, p, 0.0) / gold_mass
            gradient = gradient + x.T @ (p - target)
        return loss, gradient

    return minimize(loss_and_gradient, np.zeros(groups[0][0].shape[1]), jac=True, method="L-BFGS-B").x


def fit(data, l2: float = LISTWISE_L2):
    """Raw-feature weights and a bias: the listwise direction on standardised features (questions without a gold
    candidate carry no ranking signal and are left out), scaled and shifted by Platt's method (a one-feature logistic
    regression on the scores) so that sigmoid(score) is the probability that a candidate is the one asked for."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x_all = np.vstack([x for x, _ in data])
    mean, scale = x_all.mean(0), x_all.std(0) + 1e-9
    groups = [((x - mean) / scale, y > 0) for x, y in data if y.any()]
    direction = listwise_direction(groups, l2) / scale
    scores = np.concatenate([x @ direction for x, _ in data])
    platt = LogisticRegression(C=1e6, max_iter=5000).fit(scores[:, None], np.concatenate([y for _, y in data]))
    slope, intercept = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return slope * direction, intercept


def recall_at(data, scores, k: int) -> float:
    """Share of questions with a positive among the ``k`` best of its candidates by ``scores`` (one array each)."""
    import numpy as np

    return sum(int(y[np.argsort(-s, kind="stable")[:k]].any()) for (_, y), s in zip(data, scores)) / len(data)


def cross_validate(data, folds: int = 5, shuffles: int = 5) -> dict[str, float]:
    """Recall@1/5 of held-out folds, averaged over shuffles; and of the fused order."""
    import numpy as np

    fused = [-np.arange(len(x)) for x, _ in data]  # rows arrive in fused order
    result = {f"fused_recall@{k}": recall_at(data, fused, k) for k in (1, 5)}
    recalls: dict[int, list[float]] = {1: [], 5: []}
    for shuffle in range(shuffles):
        order = list(range(len(data)))
        random.Random(shuffle).shuffle(order)
        held_out: list = [None] * len(data)
        for fold in range(folds):
            test = set(order[fold::folds])
            weights, bias = fit([data[i] for i in order if i not in test])
            for i in test:
                held_out[i] = data[i][0] @ weights + bias
        for k, values in recalls.items():
            values.append(recall_at(data, held_out, k))
    result.update({f"cv_recall@{k}": round(float(np.mean(v)), 3) for k, v in recalls.items()})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default="/tmp/bench-home/milvus.db")
    parser.add_argument("--kb", default="laws")
    parser.add_argument("--out", type=Path, default=REPO / "domains" / "law" / "reranker")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--depth", type=int, default=30, help="candidates the reranker reorders")
    parser.add_argument("--reuse-embedding", action="store_true", help="keep OUT/embedding, refit the weights")
    args = parser.parse_args()
    quiet()
    import os

    os.environ["DOMAINRAG_RERANKER"] = "off"  # features come from the fused order alone
    dev = shared_path("law", "lawbench", "3-2.dev.json")
    if dev is None:
        return 0
    from domainrag.hit import Hit
    from domainrag.rerank import LinearReranker, load_embedding

    rag = open_law_kb(args.uri, args.kb)
    embedding_dir = args.out / "embedding"
    statute = re.compile(rag.pack.retrieval.prefer_titles)  # the authority prior's titles: 法 / 法典
    started = time.perf_counter()
    if args.reuse_embedding:
        embedder = load_embedding(embedding_dir)
    else:
        embedding_dir.mkdir(parents=True, exist_ok=True)
        chunks = [Hit.from_row(row) for row in rag.store.chunks(args.kb)]
        train_embedding(chunks, statute, embedding_dir, args.dim, args.epochs)
        print(f"embedding saved to {embedding_dir}; now fit the weights with --reuse-embedding (a KB built with it, "
              "as the medical pack's are, needs ingesting again)", file=sys.stderr)
        return 0
    items = lawbench_items(rag, args.kb, dev)
    probe = LinearReranker(weights={}, bias=0.0, depth=args.depth, embedder=embedder, preferred=statute)
    data = collect(rag, items, probe, args.depth)
    figures = cross_validate(data)
    weights, bias = fit(data)
    config = {"depth": args.depth, "bias": bias, "weights": dict(zip(FEATURES, map(float, weights))),
              "trained_on": f"LawBench 3-2 dev ({len(items)} questions), KB {args.kb} ({rag.store.count(args.kb)} "
                            "chunks); see benchmarks/train_law_reranker.py",
              "cross_validated": figures}
    (args.out / "reranker.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({**figures, "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
