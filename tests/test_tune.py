"""A tiny PEFT run of a few steps on real law data: save, reload, merge, resume; bad input gives one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domainrag.cli.main import app
from domainrag.errors import ConfigError
from domainrag.instruct.build import build_dataset
from domainrag.instruct.records import file_sha256, read_jsonl, validation_path, write_jsonl
from domainrag.packs import load_pack
from domainrag.tune.train import TuneSettings, tune

LAW_FILE = Path(__file__).resolve().parents[1] / "domains/law/corpus/民法商法/个人独资企业法(1999-08-30).md"
TINY = dict(max_steps=2, batch_size=2, max_length=64, eval_examples=4, threads=1, save_steps=1, logging_steps=1)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 training and 4 validation pairs built from one real statute."""
    folder = tmp_path_factory.mktemp("tune-data")
    shutil.copy(LAW_FILE, folder / LAW_FILE.name)
    result = build_dataset(load_pack("law"), source=folder, out=folder / "full.jsonl")
    train = folder / "tiny.jsonl"
    short = lambda examples: [e for e in examples if not e.input and len(e.instruction) < 20]  # noqa: E731
    write_jsonl(train, short(read_jsonl(result.train_path))[:12])
    write_jsonl(validation_path(train), short(read_jsonl(result.validation_path))[:4])
    return train


def _cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})


@pytest.mark.slow
def test_lora_run_saves_reloads_and_merges(tiny_data: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from domainrag.tune.evaluate import answer_loss
    from domainrag.tune.merge import load_adapter, merge_adapter

    pack = load_pack("law")
    settings = TuneSettings.from_pack(pack, **TINY)
    result = tune(pack, data=tiny_data, out=tmp_path / "adapter", settings=settings)
    out = result.adapter_dir
    for name in ("adapter_config.json", "adapter_model.safetensors", "training_card.json", "training_card.md"):
        assert (out / name).exists(), name
    assert not (out / "checkpoints").exists()
    card = json.loads((out / "training_card.json").read_text(encoding="utf-8"))
    assert card["method"] == "lora" and card["steps"] == 2 and card["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert card["data"]["sha256"] == file_sha256(tiny_data, validation_path(tiny_data))
    assert card["hyperparameters"]["max_steps"] == 2 and card["hyperparameters"]["r"] == 8
    assert card["train_loss"] > 0 and card["peak_rss_mb"] > 0
    base_loss, adapter_loss = card["validation_base"]["loss"], card["validation_adapter"]["loss"]
    assert abs(base_loss - adapter_loss) > 1e-5, "two steps must change the model"

    val = read_jsonl(validation_path(tiny_data))
    model, tokenizer = load_adapter(out)
    reloaded = answer_loss(model, tokenizer, val, settings.system, settings.max_length).loss
    assert reloaded == pytest.approx(adapter_loss, abs=2e-3)

    merged_dir = merge_adapter(out, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert answer_loss(merged, tokenizer, val, settings.system, settings.max_length).loss == pytest.approx(reloaded, abs=2e-3)


@pytest.mark.slow
def test_checkpoints_and_resume(tiny_data: Path, tmp_path: Path) -> None:
    pack = load_pack("law")
    out = tmp_path / "adapter"
    tune(pack, data=tiny_data, out=out, settings=TuneSettings.from_pack(pack, **TINY), keep_checkpoints=True,
         evaluate=False)
    assert (out / "checkpoints" / "checkpoint-2").exists()
    resumed = tune(pack, data=tiny_data, out=out, settings=TuneSettings.from_pack(pack, **{**TINY, "max_steps": 3}),
                   resume=True, evaluate=False)
    assert resumed.card["steps"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("method,peft_type", [("adalora", "ADALORA"), ("ia3", "IA3"), ("prefix", "PREFIX_TUNING"),
                                              ("prompt", "PROMPT_TUNING"), ("p-tuning", "P_TUNING")])
def test_other_peft_methods_train_one_step(method: str, peft_type: str, tiny_data: Path, tmp_path: Path) -> None:
    from domainrag.tune.merge import merge_adapter

    pack = load_pack("law")
    settings = TuneSettings.from_pack(pack, **{**TINY, "method": method, "max_steps": 1, "num_virtual_tokens": 4})
    result = tune(pack, data=tiny_data, out=tmp_path / method, settings=settings, evaluate=False)
    config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert config["peft_type"] == peft_type and result.card["method"] == method
    if method in ("prefix", "prompt", "p-tuning"):
        with pytest.raises(ConfigError, match="cannot be merged"):
            merge_adapter(result.adapter_dir, tmp_path / "merged")


def test_bad_input_is_one_clear_line(tiny_data: Path, tmp_path: Path) -> None:
    unknown = _cli("tune", "law", "--method", "dora", "--data", str(tiny_data))
    assert unknown.exit_code == 2 and "unknown tuning method 'dora'" in unknown.stderr

    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    no_data = _cli("tune", "law", "--data", str(empty), "--out", str(tmp_path / "a"))
    assert no_data.exit_code == 2 and "no examples" in no_data.stderr

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "q"}\n', encoding="utf-8")
    bad_record = _cli("tune", "law", "--data", str(broken), "--out", str(tmp_path / "b"))
    assert bad_record.exit_code == 2 and "instruction" in bad_record.stderr

    no_model = _cli("tune", "law", "--data", str(tiny_data), "--base", str(tmp_path / "no-such-model"),
                    "--out", str(tmp_path / "c"))
    assert no_model.exit_code == 2 and "not found" in no_model.stderr

    import torch

    if not torch.cuda.is_available():
        qlora = _cli("tune", "law", "--data", str(tiny_data), "--qlora", "--out", str(tmp_path / "d"))
        assert qlora.exit_code == 2 and "CUDA" in qlora.stderr
    for result in (unknown, no_data, bad_record, no_model):
        assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
