"""Metrics: ranking quality of retrieval (ir-measures / trec_eval) and quality of generated answers.

Retrieval (per question, ``hit_keys`` = the gold keys each ranked hit satisfies, see ``Gold.matches``):
  recall@c  share of the gold items found in the first c hits
  mrr       1 / rank of the first hit that satisfies a gold item (0 if none in the first k)
  ndcg      binary-relevance nDCG@k; a gold item found twice counts once (later copies are not relevant)
Answers:
  choice accuracy   extracted option set == gold option set
  numeric match     |pred − gold| ≤ max(abs_tol, rel_tol·|gold|), or pred rounded to the gold's decimals == gold
  rouge_l, char_f1  character level (CJK characters, letters, digits; punctuation and spaces dropped)
  rouge_l_words     ROUGE-L F over jieba words, as LawBench scores its generation tasks (rouge_chinese; an empty
                    prediction counts as 无内容)
  cites_any / cites_gold  the answer cites a given passage / a passage that satisfies a gold item
  unsupported_mentions    statute articles the answer names that none of its sources holds
  citation precision share of cited chunks that satisfy a gold item
  faithfulness      share of answer sentences supported by the cited chunks: a sentence is supported when
                    ≥ ``threshold`` (default 0.5) of its character bigrams occur in the cited chunks' title and text
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import ir_measures
from rouge_score import rouge_scorer

from domainrag.chain.grounding import SENTENCE_BREAK, char_tokens, sentence_support
from domainrag.evaluate.extract import decimals, extract_choice_sequence, extract_choices, extract_number

FAITHFULNESS_THRESHOLD = 0.5
MIN_SENTENCE_CHARS = 4
_CITATION_MARK = re.compile(r"\[\s*\d+(?:\s*[,，、-]\s*\d+)*\s*\]")


# ---- retrieval -------------------------------------------------------------------------------------------
def cutoffs_for(k: int) -> list[int]:
    """Recall cut-offs reported up to k: 1, 3, 5, 10, 20, 50, 100 … and k itself."""
    return sorted({c for c in (1, 3, 5, 10, 20, 50, 100, 200, 500, 1000) if c <= k} | {k})


def retrieval_metrics(hit_keys: Sequence[Iterable[str]], gold_keys: Sequence[str], k: int) -> dict[str, float]:
    """``recall@c`` for every cut-off, ``mrr`` and ``ndcg`` at k, for one question, computed by ir-measures.

    Hits are ranked in list order; each gold item is credited to the first hit that satisfies it.
    """
    if not gold_keys:
        raise ValueError("retrieval metrics need at least one gold item")
    credited: set[str] = set()
    run: list[ir_measures.ScoredDoc] = []
    ranked = list(hit_keys)[:k]
    for rank, keys in enumerate(ranked, start=1):
        fresh = [key for key in keys if key not in credited]
        doc = fresh[0] if fresh else f"~miss{rank}"
        credited.add(doc)
        run.append(ir_measures.ScoredDoc("q", doc, float(len(ranked) - rank + 1)))  # strict order, no ties
    qrels = [ir_measures.Qrel("q", key, 1) for key in dict.fromkeys(gold_keys)]
    cutoffs = cutoffs_for(k)
    measures = [ir_measures.R @ c for c in cutoffs] + [ir_measures.RR @ k, ir_measures.nDCG @ k]
    names = {ir_measures.R @ c: f"recall@{c}" for c in cutoffs}
    names.update({ir_measures.RR @ k: "mrr", ir_measures.nDCG @ k: "ndcg"})
    scores = {name: 0.0 for name in names.values()}
    if run:
        for metric in ir_measures.iter_calc(measures, qrels, run):
            scores[names[metric.measure]] = float(metric.value)
    return scores


def first_gold_rank(hit_keys: Sequence[Iterable[str]]) -> int | None:
    """1-based rank of the first hit that satisfies any gold item."""
    for rank, keys in enumerate(hit_keys, start=1):
        if list(keys):
            return rank
    return None


# ---- answers -----------------------------------------------------------------------------------------------
class _CharTokenizer:
    """rouge-score tokenizer interface (``tokenize(text) -> list[str]``) at character level."""

    def tokenize(self, text: str) -> list[str]:
        return char_tokens(text)


_ROUGE = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_CharTokenizer())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure over characters (rouge-score with a character tokenizer)."""
    if not char_tokens(prediction) or not char_tokens(reference):
        return 0.0
    return float(_ROUGE.score(reference, prediction)["rougeL"].fmeasure)


def rouge_l_words(prediction: str, reference: str) -> float:
    """LawBench's ROUGE-L: F-measure over jieba words (``rouge_chinese``); an empty prediction is 无内容."""
    import jieba
    from rouge_chinese import Rouge

    hypothesis = " ".join(jieba.cut(prediction)) if prediction.strip() else "无内容"
    target = " ".join(jieba.cut(reference))
    if not hypothesis.strip() or not target.strip():
        return 0.0
    try:
        return float(Rouge().get_scores([hypothesis], [target])[0]["rouge-l"]["f"])
    except ValueError:  # a text of punctuation only
        return 0.0


def char_f1(prediction: str, reference: str) -> float:
    """Bag-of-characters F1 (the CMRC 2018 / SQuAD F1 at character level)."""
    pred, ref = Counter(char_tokens(prediction)), Counter(char_tokens(reference))
    overlap = sum((pred & ref).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def choice_correct(prediction: str, gold: Sequence[str]) -> tuple[bool, list[str]]:
    """(correct, extracted options). One gold entry ("B", or "AC" for multi-select): the response's option
    set must equal it. Several entries (multi-blank items): the options named in order must equal them."""
    if len(gold) > 1:
        predicted = extract_choice_sequence(prediction)
        return predicted == [g.upper() for g in gold], predicted
    predicted = extract_choices(prediction)
    return bool(predicted) and set(predicted) == set(gold[0].upper()), predicted


def numbers_match(predicted: float | None, gold: float, gold_text: str | None = None,
                  rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> bool:
    """Numeric equality with tolerance; also accepts the prediction rounded to the gold's written precision
    when the gold is written with decimals (gold "71.28", predicted 71.275 → equal; gold "18", 18.4 → not)."""
    if predicted is None or math.isnan(predicted):
        return False
    if math.isclose(predicted, gold, rel_tol=rel_tol, abs_tol=abs_tol):
        return True
    places = decimals(gold_text) if gold_text is not None else None
    return bool(places) and abs(predicted - gold) <= 0.5 * 10 ** -places + 1e-9


def numeric_correct(prediction: str, gold: float, gold_text: str | None = None,
                    rel_tol: float = 1e-4) -> tuple[bool, float | None]:
    """(correct, extracted number) for a generated answer against a numeric gold."""
    predicted = extract_number(prediction)
    return numbers_match(predicted, gold, gold_text, rel_tol=rel_tol), predicted


def strip_citations(text: str) -> str:
    return _CITATION_MARK.sub("", text)


def split_sentences(text: str, min_chars: int = MIN_SENTENCE_CHARS) -> list[str]:
    """Sentences of an answer (split after 。！？；!?; newlines, ". "), citation marks removed, short ones dropped."""
    pieces = SENTENCE_BREAK.split(strip_citations(text))
    return [p.strip() for p in pieces if p and len(char_tokens(p)) >= min_chars]


def faithfulness(answer: str, cited_texts: Sequence[str], threshold: float = FAITHFULNESS_THRESHOLD,
                 ignore: Iterable[str] = ()) -> tuple[float | None, int, int]:
    """(share of supported sentences, supported, total); None when the answer has no sentence to judge.

    ``ignore``: boilerplate removed first (e.g. the pack's disclaimer).
    """
    for text in ignore:
        if text:
            answer = answer.replace(text, "")
    sentences = split_sentences(answer)
    if not sentences:
        return None, 0, 0
    supported = sum(sentence_support(s, cited_texts) >= threshold for s in sentences)
    return supported / len(sentences), supported, len(sentences)


def citation_precision(citation_keys: Sequence[Iterable[str]]) -> float | None:
    """Share of cited chunks that satisfy some gold item; None when nothing is cited."""
    if not citation_keys:
        return None
    return sum(1 for keys in citation_keys if list(keys)) / len(citation_keys)
