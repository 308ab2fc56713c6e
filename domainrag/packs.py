"""Find and load domain packs: built-in (``domains/``), a folder on disk, or an entry point."""

from __future__ import annotations

import importlib
import importlib.metadata
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainrag.errors import ConfigError

ENTRY_POINT_GROUP = "domainrag.packs"


def builtin_packs_dir() -> Path:
    """The folder that holds the built-in packs (``domains/`` in the source tree)."""
    import domainrag.domains

    return Path(domainrag.domains.__file__).parent


@dataclass(frozen=True)
class RetrievalSettings:
    """How a pack retrieves: mode, depth, fusion and the relevance floor."""

    mode: str = "hybrid"
    k: int = 5
    candidates: int = 50
    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    grams_weight: float = 1.0   # BM25 over character n-grams (Chinese KBs only; 0 turns it off)
    prefer_titles: str = ""      # regex on document titles that get an authority prior (law: statutes)
    prefer_weight: float = 0.0   # RRF weight of the fused ranking restricted to those titles
    reranker: str = ""           # folder (relative to the pack) of a learned reranker; "" for none
    cited_weight: float = 0.0    # RRF weight of the articles the top hits cite (domainrag/cited.py); 0 turns it off
    cited_depth: int = 10        # how many top hits are read for citations
    cited_keep_top: float = 0.0  # a reranked top hit this probable (0-1) stays first when citations are followed; 0 off
    charges: str = ""            # file (relative to the pack) of charge names → articles, followed like citations
    score_threshold: float = 0.0
    # The dense similarity (cosine) the KB's nearest chunk must reach, else the question is off the KB's subject and
    # the answer says nothing relevant was found. A similarity of the pack's embedding model, so it applies only to
    # KBs embedded by that model; 0 turns it off.
    similarity_floor: float = 0.0
    chunk_size: int = 600
    chunk_overlap: int = 80
    splitter: str = "auto"


@dataclass(frozen=True)
class Pack:
    """A domain pack as read from its ``pack.toml``."""

    name: str
    path: Path
    description: str = ""
    language: str = "zh"
    disclaimer: str = ""
    embedding_model: str = "default"
    base_model: str = "default"
    adapter: str | None = None
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    prompts: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def corpus_dir(self) -> Path:
        """The pack's sample corpus folder."""
        return self.path / "corpus"

    @property
    def adapter_dir(self) -> Path | None:
        """The pack's adapter folder if one is configured and present."""
        if not self.adapter:
            return None
        candidate = (self.path / self.adapter).resolve()
        return candidate if (candidate / "adapter_config.json").exists() else None

    @property
    def reranker_dir(self) -> Path | None:
        """The pack's learned-reranker folder if one is configured (domainrag/rerank.py)."""
        return (self.path / self.retrieval.reranker).resolve() if self.retrieval.reranker else None

    def section(self, name: str) -> dict[str, Any]:
        """A raw ``[section]`` of pack.toml (empty if absent)."""
        value = self.raw.get(name, {})
        return value if isinstance(value, dict) else {}


def _read_pack(folder: Path) -> Pack:
    toml_path = folder / "pack.toml"
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{folder}: no pack.toml here; a pack folder needs one (see domains/law/pack.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{toml_path}: invalid TOML ({exc}); fix the file") from None
    meta = data.get("pack", {})
    models = data.get("models", {})
    retrieval_raw = data.get("retrieval", {})
    known = RetrievalSettings.__dataclass_fields__
    unknown = sorted(set(retrieval_raw) - set(known))
    if unknown:
        raise ConfigError(f"{toml_path}: unknown [retrieval] keys {unknown}; allowed: {sorted(known)}")
    try:
        retrieval = RetrievalSettings(**retrieval_raw)
    except TypeError as exc:
        raise ConfigError(f"{toml_path}: bad [retrieval] section ({exc})") from None
    if not (isinstance(retrieval.cited_weight, (int, float)) and retrieval.cited_weight >= 0
            and isinstance(retrieval.cited_depth, int) and retrieval.cited_depth >= 1
            and isinstance(retrieval.cited_keep_top, (int, float)) and 0 <= retrieval.cited_keep_top <= 1):
        raise ConfigError(f"{toml_path}: [retrieval] cited_weight must be a number >= 0, cited_depth an integer >= 1 "
                          "and cited_keep_top a probability from 0 to 1")
    if not (isinstance(retrieval.similarity_floor, (int, float)) and -1 <= retrieval.similarity_floor <= 1):
        raise ConfigError(f"{toml_path}: [retrieval] similarity_floor must be a cosine between -1 and 1 (0 turns it "
                          f"off), not {retrieval.similarity_floor!r}")
    if retrieval.mode not in ("hybrid", "dense", "bm25"):
        raise ConfigError(f"{toml_path}: [retrieval] mode must be hybrid, dense or bm25, not {retrieval.mode!r}")
    pack = Pack(
        name=str(meta.get("name") or folder.name),
        path=folder.resolve(),
        description=str(meta.get("description", "")),
        language=str(meta.get("language", "zh")),
        disclaimer=str(meta.get("disclaimer", "")),
        embedding_model=str(models.get("embedding", "default")),
        base_model=str(models.get("base", "default")),
        adapter=models.get("adapter"),
        retrieval=retrieval,
        prompts={k: str(v) for k, v in data.get("prompts", {}).items()},
        raw=data,
    )
    from domainrag.pack_settings import validate_pack_settings

    validate_pack_settings(pack)
    return pack


def _entry_point_packs() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = ep.load()
        except Exception:  # a broken third-party pack must not break the others
            continue
        path = Path(target() if callable(target) else getattr(target, "__file__", target))
        found[ep.name] = path.parent if path.is_file() else path
    return found


def available_packs() -> dict[str, Path]:
    """Pack name → folder, for built-in packs and entry-point packs."""
    packs = {p.name: p for p in sorted(builtin_packs_dir().iterdir()) if (p / "pack.toml").exists()}
    packs.update(_entry_point_packs())
    return packs


def load_pack(name_or_path: str | Path) -> Pack:
    """Load a pack by built-in name, entry-point name, or folder path (``./my_pack``)."""
    text = str(name_or_path)
    as_path = Path(text).expanduser()
    if as_path.is_dir() and ("/" in text or text.startswith(".") or (as_path / "pack.toml").exists()):
        return _read_pack(as_path)
    packs = available_packs()
    if text in packs:
        return _read_pack(packs[text])
    raise ConfigError(
        f"unknown pack {text!r}: choose one of {', '.join(sorted(packs)) or '(none installed)'} "
        "or pass a pack folder path (--pack ./my_pack)"
    )
