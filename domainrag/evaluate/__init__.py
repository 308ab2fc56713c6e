"""Evaluation: retrieval and answer metrics on per-pack eval sets, reports, run comparison, pairwise judging.

``run_eval(rag, "articles_lawbench_3-2", k=10)`` → ``EvalReport`` (rows, aggregates, recall curve, latencies);
``report.write(folder)`` → report.json, report.md and PNG charts; ``compare_reports(load_run(a), load_run(b))``.
"""

from domainrag.evaluate.report import EvalReport, aggregate, compare_reports, load_run
from domainrag.evaluate.runner import evaluate_item, run_eval, score_answer
from domainrag.evaluate.sets import EvalItem, EvalSet, SetError, load_eval_set, pack_sets, resolve_set

__all__ = ["EvalItem", "EvalReport", "EvalSet", "SetError", "aggregate", "compare_reports", "evaluate_item",
           "load_eval_set", "load_run", "pack_sets", "resolve_set", "run_eval", "score_answer"]
