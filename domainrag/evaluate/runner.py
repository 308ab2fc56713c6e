"""Run an eval set against a ``DomainRAG``: per-question rows written to a run folder as they finish,
so an interrupted run resumes where it stopped."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from domainrag.chain.grounding import unsupported_mentions
from domainrag.errors import ConfigError
from domainrag.evaluate import metrics
from domainrag.evaluate.gold import hit_article
from domainrag.evaluate.report import EvalReport
from domainrag.evaluate.sets import EvalItem, EvalSet, resolve_set

ANSWER_MODES = ("auto", "all", "none")
RESULTS_FILE, CONFIG_FILE = "results.jsonl", "run.json"
# Settings that must be equal for a run folder's earlier results to be reused.
RESUME_KEYS = ("pack", "kb", "kb_version", "set_sha1", "k", "mode", "answers", "ask_options", "settings")
TOP_HITS_KEPT = 5


def wants_answer(item: EvalItem, answers: str) -> bool:
    """``auto``: generate only where the gold is an answer and not a retrieval target (MCQ, numbers, free
    text without retrieval gold); ``all``: every question (citation precision and faithfulness need no
    reference answer); ``none``: never."""
    if answers in ("all", "none"):
        return answers == "all"
    return item.kind != "retrieval" and not item.gold


def _hit_summary(hit: Any, keys: list[str]) -> dict[str, Any]:
    return {"chunk_id": hit.chunk_id, "title": hit.title, "section": hit.section, "article": hit_article(hit),
            "score": hit.score, "gold": keys}


def evaluate_retrieval(rag: Any, item: EvalItem, k: int, mode: str | None) -> tuple[dict[str, Any], float]:
    """Search once; (metrics and the top hits, milliseconds)."""
    started = time.perf_counter()
    hits = rag.search(item.question, k=k, mode=mode)
    elapsed = (time.perf_counter() - started) * 1000
    keys = [item.gold.matches(hit) for hit in hits]
    result: dict[str, Any] = metrics.retrieval_metrics(keys, item.gold.keys(), k)
    result["first_rank"] = metrics.first_gold_rank(keys)
    result["top"] = [_hit_summary(hit, hit_keys) for hit, hit_keys in zip(hits[:TOP_HITS_KEPT], keys)]
    return result, elapsed


def score_answer(item: EvalItem, text: str, citations: list[Any], ignore: tuple[str, ...] = (),
                 sources: list[Any] | None = None, mode: str | None = None) -> dict[str, Any]:
    """Answer metrics for one generated answer (``citations`` and ``sources``: objects with chunk_id, title,
    section, text; ``sources`` are all passages the answer was given, ``mode`` how it was written)."""
    result: dict[str, Any] = {"text": text, "citations": len(citations), "mode": mode}
    refused = mode == "refused"
    result["refused"] = refused
    result["cites_any"] = bool(citations)
    given = [(c.title, hit_article(c) or "", c.text) for c in (sources if sources is not None else citations)]
    result["unsupported_mentions"] = len(unsupported_mentions(text, given))
    if item.kind == "mcq":
        result["correct"], result["predicted"] = metrics.choice_correct(text, item.choices)
    elif item.kind == "numeric" and item.number is not None:
        result["correct"], result["predicted"] = metrics.numeric_correct(
            text, item.number, item.answer, rel_tol=item.tolerance if item.tolerance is not None else 1e-4)
    elif item.answer:
        result["rouge_l"] = metrics.rouge_l(text, item.answer)
        result["rouge_l_words"] = metrics.rouge_l_words(text, item.answer)
        result["char_f1"] = metrics.char_f1(text, item.answer)
    if item.gold:
        matched = [item.gold.matches(c) for c in citations]
        result["citation_precision"] = metrics.citation_precision(matched)
        result["cites_gold"] = any(matched)
    # a cited passage supports its own title too: the lead naming it (根据《title》[1]，) is no unsupported claim
    result["faithfulness"], result["supported_sentences"], result["sentences"] = metrics.faithfulness(
        text, [f"{c.title}\n{c.text}" for c in citations], ignore=ignore)
    return result


def evaluate_answer(rag: Any, item: EvalItem, ask_options: dict[str, Any] | None = None) -> tuple[dict[str, Any], float]:
    """Ask once, bypassing the semantic cache; (answer metrics, milliseconds)."""
    started = time.perf_counter()
    answer = rag.ask(item.ask_text, **{**(ask_options or {}), "use_cache": False})
    elapsed = (time.perf_counter() - started) * 1000
    timings = getattr(answer, "timings", None) or {}
    result = score_answer(item, answer.answer, list(answer.citations), ignore=(rag.pack.disclaimer,),
                          sources=list(getattr(answer, "sources", []) or []), mode=getattr(answer, "mode", None))
    result["model"], result["adapter"] = getattr(answer, "model", ""), getattr(answer, "adapter", None)
    return result, float(timings.get("total_ms") or elapsed)


def evaluate_item(rag: Any, item: EvalItem, k: int, mode: str | None, answers: str,
                  ask_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """One result row: retrieval metrics where the item has retrieval gold, answer metrics when asked for."""
    row: dict[str, Any] = {"id": item.id, "line": item.line, "kind": item.kind, "question": item.question,
                           "gold": item.gold_summary(), "retrieval": None, "answer": None,
                           "latency": {"retrieve_ms": None, "answer_ms": None}}
    if item.gold:
        row["retrieval"], row["latency"]["retrieve_ms"] = evaluate_retrieval(rag, item, k, mode)
    if wants_answer(item, answers):
        row["answer"], row["latency"]["answer_ms"] = evaluate_answer(rag, item, ask_options)
    return row


# ---- run folder -----------------------------------------------------------------------------------------------
def default_run_dir(pack: str, set_name: str) -> Path:
    from domainrag.config import domainrag_home

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return domainrag_home() / "eval" / f"{pack}-{set_name}-{stamp}"


def _open_run_folder(run_dir: Path, config: dict[str, Any], fresh: bool) -> dict[str, dict[str, Any]]:
    """Create or reopen a run folder; the rows already done there (resume) once their settings are checked."""
    run_dir.mkdir(parents=True, exist_ok=True)
    done = _read_done(run_dir, config, fresh)
    (run_dir / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return done


def _read_done(run_dir: Path, config: dict[str, Any], fresh: bool) -> dict[str, dict[str, Any]]:
    """Rows already in the run folder, after checking they were made with the same settings."""
    config_path, results_path = run_dir / CONFIG_FILE, run_dir / RESULTS_FILE
    if fresh or not config_path.exists():
        results_path.unlink(missing_ok=True)
        return {}
    try:
        previous = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise ConfigError(f"{config_path}: unreadable run settings; pass --fresh to start this run over") from None
    changed = [f"{key}={previous.get(key)!r} (now {config.get(key)!r})" for key in RESUME_KEYS
               if previous.get(key) != config.get(key)]
    if changed:
        raise ConfigError(f"run folder {run_dir} holds results made with other settings: {', '.join(changed)}; "
                          "pass --fresh to start over or use another --report folder")
    done: dict[str, dict[str, Any]] = {}
    if results_path.exists():
        for line in results_path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                done[row["id"]] = row
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by an interruption: that question runs again
        results_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done.values()),
                                encoding="utf-8")
    return done


def run_eval(rag: Any, eval_set: EvalSet | str | Path | None = None, k: int = 10, *, answers: str = "auto",
             mode: str | None = None, limit: int | None = None, run_dir: str | Path | None = None,
             fresh: bool = False, ask_options: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
             progress: bool = False, on_item: Callable[[int, int, dict[str, Any]], None] | None = None) -> EvalReport:
    """Evaluate ``rag`` on a set (an EvalSet, a file, a set name of the pack, or None for the pack's default).

    ``ask_options`` go to ``rag.ask`` (adapter, max_new_tokens, k); ``settings`` describe the configuration
    otherwise (e.g. the LLM endpoint) and are recorded. Every finished question is appended to
    ``run_dir/results.jsonl``; a later call with the same folder and settings skips those. ``progress`` shows a bar on stderr; ``on_item(done, total, row)`` is called after
    each question (for UIs). Returns the report (rows, aggregates, latencies) and writes nothing else.
    """
    if answers not in ANSWER_MODES:
        raise ConfigError(f"unknown answers mode {answers!r}: use one of {', '.join(ANSWER_MODES)}")
    if k < 1:
        raise ConfigError(f"k must be at least 1, not {k}")
    if not isinstance(eval_set, EvalSet):
        eval_set = resolve_set(rag.pack, eval_set)
    items = eval_set.limited(limit)
    if any(wants_answer(item, answers) for item in items) and not callable(getattr(rag, "ask", None)):
        raise ConfigError("this set needs generated answers but DomainRAG.ask is not available; "
                          "run with --answers none to score retrieval only")
    config = {"pack": rag.pack.name, "kb": rag.kb, "uri": str(rag.uri), "kb_version": _kb_version(rag),
              "set": eval_set.name, "set_path": str(eval_set.path), "set_sha1": eval_set.sha1,
              "items": len(items), "set_items": len(eval_set), "k": k, "mode": mode or rag.pack.retrieval.mode,
              "answers": answers, "ask_options": {key: v for key, v in (ask_options or {}).items() if v is not None},
              "settings": {key: v for key, v in (settings or {}).items() if v is not None}, "limit": limit,
              "started": datetime.now().isoformat(timespec="seconds")}
    gold_items = [item for item in items if item.gold]
    if gold_items:  # fails early on a missing KB; loads models and the collection before the first timed search
        rag.search(gold_items[0].question, k=1, mode=mode)
    folder = Path(run_dir) if run_dir else default_run_dir(rag.pack.name, eval_set.name)
    done = _open_run_folder(folder, config, fresh)
    rows = [done[item.id] for item in items if item.id in done]
    todo = [item for item in items if item.id not in done]
    bar = _progress_bar(len(items), len(rows), eval_set.name) if progress else None
    try:
        with (folder / RESULTS_FILE).open("a", encoding="utf-8") as results:
            for item in todo:
                row = evaluate_item(rag, item, k, mode, answers, config["ask_options"])
                results.write(json.dumps(row, ensure_ascii=False) + "\n")
                results.flush()
                rows.append(row)
                if bar is not None:
                    bar.update(1)
                if on_item is not None:
                    on_item(len(rows), len(items), row)
    finally:
        if bar is not None:
            bar.close()
    order = {item.id: n for n, item in enumerate(items)}
    rows.sort(key=lambda r: order[r["id"]])
    return EvalReport(config=config, rows=rows, run_dir=folder)


def _kb_version(rag: Any) -> str | None:
    try:
        return rag.kb_version()
    except Exception:  # a missing KB is reported by the first search, with the fix
        return None


def _progress_bar(total: int, initial: int, label: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=f"eval {label}", unit="q", file=sys.stderr,
                dynamic_ncols=True, leave=False)
