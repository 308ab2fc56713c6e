"""PNG charts for eval reports (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def recall_chart(curve: dict[int, float], path: Path, title: str = "") -> Path:
    """Mean recall at each cut-off k."""
    plt = _pyplot()
    cutoffs = sorted(curve)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(cutoffs, [curve[c] for c in cutoffs], marker="o")
    for c in cutoffs:
        ax.annotate(f"{curve[c]:.2f}", (c, curve[c]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    if cutoffs[-1] / max(cutoffs[0], 1) >= 20:
        ax.set_xscale("log")
    ax.set_xticks(cutoffs, [str(c) for c in cutoffs])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_title(f"recall@k {title}".strip(), fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def latency_histogram(latencies: dict[str, list[float]], path: Path) -> Path:
    """One histogram per stage that has measurements (retrieval, answer)."""
    plt = _pyplot()
    stages = [(name, values) for name, values in latencies.items() if values]
    fig, axes = plt.subplots(1, len(stages), figsize=(5 * len(stages), 3.5), dpi=100, squeeze=False)
    for ax, (name, values) in zip(axes[0], stages):
        ax.hist(values, bins=min(30, max(5, len(values) // 3)), color="#4a7ab8")
        ax.set_xlabel(f"{name.removesuffix('_ms')} latency (ms)")
        ax.set_ylabel("questions")
        ax.set_title(f"{name}: p50 {sorted(values)[len(values) // 2]:.0f} ms, n={len(values)}", fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
