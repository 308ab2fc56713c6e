"""Every table of a pack.toml checked when the pack loads, so a typo fails at once, naming the file and the key,
instead of at the first ``ask``, ``tune`` or cache lookup that reads the table."""

from __future__ import annotations

from typing import Any

from domainrag.errors import ConfigError

TABLES = ("pack", "models", "retrieval", "prompts", "generation", "answer", "builder", "tune", "cache", "eval",
          "benchmark")
PROMPT_KEYS = ("system", "user", "no_context", "header")
MODEL_KEYS = ("embedding", "base", "adapter")


def validate_pack_settings(pack: Any) -> None:
    """ConfigError for an unknown table or key, or a bad value, in any table a pack may have ([builder] keys are
    the pack builder's own)."""
    where = pack.path / "pack.toml"
    unknown = sorted(set(pack.raw) - set(TABLES))
    if unknown:
        raise ConfigError(f"{where}: unknown tables {unknown}; allowed: {list(TABLES)}")
    for table, known in (("prompts", PROMPT_KEYS), ("models", MODEL_KEYS)):
        extra = sorted(set(pack.section(table)) - set(known))
        if extra:
            raise ConfigError(f"{where}: unknown [{table}] keys {extra}; allowed: {list(known)}")
    from domainrag.cache.semantic import CacheSettings
    from domainrag.chain.answer_chain import AnswerSettings
    from domainrag.llm.base import GenerationSettings
    from domainrag.tune.train import TuneSettings

    for settings in (AnswerSettings, GenerationSettings, CacheSettings, TuneSettings):
        settings.from_pack(pack)
