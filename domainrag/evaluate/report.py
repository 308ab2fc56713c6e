"""Eval reports: aggregates over result rows, JSON + Markdown with PNG charts, and run-vs-run comparison."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainrag.errors import ConfigError

REPORT_JSON, REPORT_MD = "report.json", "report.md"
RECALL_PNG, LATENCY_PNG = "recall_at_k.png", "latency.png"
_ANSWER_MEANS = ("rouge_l", "rouge_l_words", "char_f1", "citation_precision", "faithfulness", "cites_any",
                 "cites_gold", "unsupported_mentions", "refused")  # averaged where present (booleans as 0/1)
LOWER_IS_BETTER = re.compile(r"_ms(_|$)")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_stats(values: list[float]) -> dict[str, float | None]:
    return {"n": len(values), "mean": _mean(values), "p50": _percentile(values, 0.5),
            "p95": _percentile(values, 0.95), "max": max(values) if values else None}


def aggregate(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Means over the rows that have each metric; ``n`` counts say how many questions each mean covers."""
    retrieval = [r["retrieval"] for r in rows if r.get("retrieval")]
    answered = [r for r in rows if r.get("answer")]
    result: dict[str, Any] = {"questions": len(rows), "retrieval": {"n": len(retrieval)}, "answers": {"n": len(answered)}}
    if retrieval:
        for key in retrieval[0]:
            if key.startswith("recall@"):
                result["retrieval"][key] = _mean([r[key] for r in retrieval if key in r])
        result["retrieval"][f"mrr@{k}"] = _mean([r["mrr"] for r in retrieval])
        result["retrieval"][f"ndcg@{k}"] = _mean([r["ndcg"] for r in retrieval])
        result["retrieval"][f"hit_rate@{k}"] = _mean([1.0 if r.get("first_rank") else 0.0 for r in retrieval])
    answers = result["answers"]
    for kind, name in (("mcq", "choice_accuracy"), ("numeric", "exact_match")):
        scored = [r["answer"]["correct"] for r in answered if r["kind"] == kind and "correct" in r["answer"]]
        if scored:
            answers[name] = _mean([1.0 if c else 0.0 for c in scored])
            answers[f"{name}_n"] = len(scored)
    for name in _ANSWER_MEANS:
        values = [float(r["answer"][name]) for r in answered if r["answer"].get(name) is not None]
        if values:
            answers[name] = _mean(values)
            answers[f"{name}_n"] = len(values)
    if answered:
        answers["citation_rate"] = _mean([1.0 if r["answer"].get("citations") else 0.0 for r in answered])
    result["latency"] = {stage: latency_stats([r["latency"][stage] for r in rows
                                               if (r.get("latency") or {}).get(stage) is not None])
                         for stage in ("retrieve_ms", "answer_ms")}
    return result


def flat_metrics(aggregates: dict[str, Any]) -> dict[str, float]:
    """``{"retrieval.recall@10": …, "answers.choice_accuracy": …, "latency.retrieve_ms_p50": …}``."""
    flat: dict[str, float] = {}
    for section in ("retrieval", "answers"):
        for key, value in aggregates.get(section, {}).items():
            if value is not None and key != "n" and not key.endswith("_n"):
                flat[f"{section}.{key}"] = value
    for stage, stats in aggregates.get("latency", {}).items():
        for key in ("mean", "p50", "p95"):
            if stats.get(key) is not None:
                flat[f"latency.{stage}_{key}"] = stats[key]
    return flat


@dataclass
class EvalReport:
    """A run's settings and per-question rows; aggregates, the recall curve and latencies derive from rows."""

    config: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    run_dir: Path | None = None

    @property
    def k(self) -> int:
        return int(self.config.get("k", 10))

    @property
    def complete(self) -> bool:
        return len(self.rows) >= int(self.config.get("items", len(self.rows)))

    @property
    def aggregates(self) -> dict[str, Any]:
        return aggregate(self.rows, self.k)

    @property
    def recall_curve(self) -> dict[int, float]:
        """Cut-off → mean recall, over the questions with retrieval gold."""
        values = self.aggregates["retrieval"]
        return {int(key.split("@")[1]): value for key, value in values.items() if key.startswith("recall@")}

    @property
    def latencies(self) -> dict[str, list[float]]:
        return {stage: [r["latency"][stage] for r in self.rows if (r.get("latency") or {}).get(stage) is not None]
                for stage in ("retrieve_ms", "answer_ms")}

    def misses(self, limit: int = 15) -> list[dict[str, Any]]:
        """Questions whose gold was not retrieved in the top k, or whose answer was wrong."""
        found = [r for r in self.rows if (r.get("retrieval") and not r["retrieval"].get("first_rank"))
                 or (r.get("answer") and r["answer"].get("correct") is False)]
        return found[:limit]

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "complete": self.complete, "aggregates": self.aggregates,
                "recall_curve": {str(c): v for c, v in self.recall_curve.items()}, "rows": self.rows}

    @classmethod
    def from_dict(cls, data: dict[str, Any], run_dir: Path | None = None) -> "EvalReport":
        return cls(config=data.get("config", {}), rows=data.get("rows", []), run_dir=run_dir)

    def write(self, folder: str | Path | None = None, charts: bool = True) -> dict[str, Path]:
        """Write report.json, report.md and (``charts``) the PNGs into ``folder`` (default: the run folder)."""
        target = Path(folder or self.run_dir or ".")
        target.mkdir(parents=True, exist_ok=True)
        paths = {"json": target / REPORT_JSON, "markdown": target / REPORT_MD}
        paths["json"].write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        if charts:
            from domainrag.evaluate.charts import latency_histogram, recall_chart

            if self.recall_curve:
                paths["recall_chart"] = recall_chart(self.recall_curve, target / RECALL_PNG,
                                                     title=f"{self.config.get('pack')} · {self.config.get('set')}")
            if any(self.latencies.values()):
                paths["latency_chart"] = latency_histogram(self.latencies, target / LATENCY_PNG)
        paths["markdown"].write_text(render_markdown(self, {k: p.name for k, p in paths.items()}), encoding="utf-8")
        return paths


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cell(text: Any, width: int = 60) -> str:
    text = re.sub(r"\s+", " ", str(text or "")).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def render_markdown(report: EvalReport, files: dict[str, str]) -> str:
    """The human-readable report (tables, charts, misses)."""
    cfg, agg = report.config, report.aggregates
    lines = [f"# Eval: {cfg.get('pack')} · {cfg.get('set')}", "",
             f"{len(report.rows)} of {cfg.get('items')} questions"
             + ("" if report.complete else " (incomplete: rerun with the same --report folder to resume)"), "",
             "| setting | value |", "|---|---|"]
    for key in ("pack", "kb", "kb_version", "set", "set_path", "k", "mode", "answers", "ask_options", "settings",
                "limit", "started"):
        lines.append(f"| {key} | {_cell(cfg.get(key), 90)} |")
    if agg["retrieval"]["n"]:
        lines += ["", f"## Retrieval ({agg['retrieval']['n']} questions with retrieval gold)", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {key} | {_fmt(value)} |" for key, value in agg["retrieval"].items() if key != "n"]
        if "recall_chart" in files:
            lines += ["", f"![recall@k]({files['recall_chart']})"]
    if agg["answers"]["n"]:
        lines += ["", f"## Answers ({agg['answers']['n']} generated)", "", "| metric | value | questions |",
                  "|---|---|---|"]
        lines += [f"| {key} | {_fmt(value)} | {agg['answers'].get(key + '_n', agg['answers']['n'])} |"
                  for key, value in agg["answers"].items() if key != "n" and not key.endswith("_n")]
    lines += ["", "## Latency (ms)", "", "| stage | n | mean | p50 | p95 | max |", "|---|---|---|---|---|---|"]
    for stage, stats in agg["latency"].items():
        lines.append(f"| {stage} | {stats['n']} | " + " | ".join(_fmt(stats[k], 1) for k in ("mean", "p50", "p95", "max")) + " |")
    if "latency_chart" in files:
        lines += ["", f"![latency]({files['latency_chart']})"]
    misses = report.misses()
    if misses:
        lines += ["", "## Misses (first 15)", "", "| id | question | gold | got |", "|---|---|---|---|"]
        for row in misses:
            got = (row["answer"] or {}).get("predicted") if row.get("answer") else None
            if got is None and row.get("retrieval"):
                top = row["retrieval"].get("top") or [{}]
                got = " ".join(p for p in (top[0].get("title"), top[0].get("article") and f"第{top[0]['article']}条") if p)
            lines.append(f"| {_cell(row['id'], 30)} | {_cell(row['question'])} | {_cell(row['gold'], 40)} | {_cell(got, 40)} |")
    return "\n".join(lines) + "\n"


# ---- loading and comparing runs ------------------------------------------------------------------------------
def load_run(path: str | Path) -> EvalReport:
    """A run folder (report.json, or run.json + results.jsonl of an unfinished run) or a report.json file."""
    path = Path(path).expanduser()
    folder = path.parent if path.is_file() else path
    report_file = path if path.is_file() else path / REPORT_JSON
    try:
        if report_file.exists():
            return EvalReport.from_dict(json.loads(report_file.read_text(encoding="utf-8")), folder)
        config = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        rows = []
        results = folder / "results.jsonl"
        for line in results.read_text(encoding="utf-8").splitlines() if results.exists() else []:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return EvalReport(config=config, rows=rows, run_dir=folder)
    except FileNotFoundError:
        raise ConfigError(f"{path}: not an eval run folder (no report.json or run.json); "
                          "pass the --report folder of a `domainrag eval` run") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{report_file}: corrupt report ({exc.msg}); rerun the eval") from None


def compare_reports(a: EvalReport, b: EvalReport) -> dict[str, Any]:
    """Side-by-side aggregates on the questions both runs finished; delta = B − A."""
    ids_b = {r["id"] for r in b.rows}
    common = [r["id"] for r in a.rows if r["id"] in ids_b]
    keep = set(common)
    flat_a = flat_metrics(aggregate([r for r in a.rows if r["id"] in keep], a.k))
    flat_b = flat_metrics(aggregate([r for r in b.rows if r["id"] in keep], b.k))
    rows = []
    for name in list(dict.fromkeys([*flat_a, *flat_b])):
        va, vb = flat_a.get(name), flat_b.get(name)
        delta = vb - va if va is not None and vb is not None else None
        better = None
        if delta:
            better = "A" if (delta < 0) != bool(LOWER_IS_BETTER.search(name)) else "B"
        rows.append({"metric": name, "a": va, "b": vb, "delta": delta, "better": better})
    return {"a": str(a.run_dir or ""), "b": str(b.run_dir or ""), "common": len(common),
            "only_a": len(a.rows) - len(common), "only_b": len(b.rows) - len(common),
            "settings": {key: [a.config.get(key), b.config.get(key)] for key in
                         ("pack", "kb", "set", "k", "mode", "answers", "ask_options", "settings")
                         if a.config.get(key) != b.config.get(key)},
            "metrics": rows}
