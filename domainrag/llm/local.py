"""A local transformers model (default SmolLM2-135M-Instruct), optionally with a PEFT adapter, streaming tokens.

Weights load once per process (``local_model.load_model``). A PEFT adapter is merged into its own copy of the
base model, once per process, so answers with an adapter run at base-model speed (LoRA layers left unmerged cost
about a third more time to first token) and the shared base stays plain; the copy costs the model's size in
memory. Adapters that cannot be merged (prefix / prompt tuning) run through PEFT as they are.
"""

from __future__ import annotations

import copy
import queue
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from domainrag.dtypes import check_dtype_name, runtime_dtype
from domainrag.errors import ModelError
from domainrag.llm.base import GenerationSettings, Generator, Guidance, Message
from domainrag.llm.local_model import load_model, resolve_model

NO_ADAPTER = ("none", "off", "")
_registry_lock = threading.Lock()
_adapted_models: dict[str, Any] = {}  # base model key | adapter folder -> a copy of the base with the adapter
_generate_locks: dict[str, threading.Lock] = {}
_prefix_caches: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # KV caches of system prompts (under the lock)
_PREFIX_CACHES = 16
_runtime_models: dict[str, Any] = {}  # (source, dtype) -> the base model in the dtype generation runs in


def _generate_lock(key: str) -> threading.Lock:
    with _registry_lock:
        return _generate_locks.setdefault(key, threading.Lock())


class LocalGenerator(Generator):
    """Greedy, bounded generation with a local causal LM; the pack's adapter on top unless ``adapter='none'``."""

    def __init__(self, base_model: str | None = "default", default_adapter: Path | None = None,
                 settings: GenerationSettings | None = None) -> None:
        self.base_model = base_model or "default"
        self.source = resolve_model(self.base_model)  # fails fast (ModelError) when the model is missing
        self.model_name = self.source.name
        self.default_adapter = default_adapter
        self.settings = settings or GenerationSettings()
        check_dtype_name(self.settings.dtype)  # fails fast; the torch dtype itself is looked up on first use

    @cached_property
    def dtype(self) -> Any:
        """The torch dtype generation runs in (importing torch takes seconds: not before a model is needed)."""
        return runtime_dtype(self.settings.dtype)

    @cached_property
    def _key(self) -> str:
        return f"{self.source}|{self.dtype}"

    # ---- model and adapters ------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        return load_model(self.base_model)[1]

    def load(self) -> "LocalGenerator":
        """Load the weights now (otherwise on first use)."""
        self._base()
        return self

    def _base(self) -> Any:
        """The base model in the generation dtype (a converted copy, made once per process, unless float32)."""
        import torch

        base, _ = load_model(self.base_model)
        if self.dtype == torch.float32:
            return base
        with _registry_lock:
            if self._key not in _runtime_models:
                _runtime_models[self._key] = copy.deepcopy(base).to(self.dtype).eval()
            return _runtime_models[self._key]

    def resolve_adapter(self, adapter: str | None) -> Path | None:
        """None → the pack's adapter (if it has one); 'none' → no adapter; a folder → that adapter."""
        if adapter is None:
            return self.default_adapter
        if adapter.strip().lower() in NO_ADAPTER:
            return None
        path = Path(adapter).expanduser()
        if not (path / "adapter_config.json").exists():
            raise ModelError(f"adapter {adapter!r} not found: name a folder with adapter_config.json, or use --adapter none")
        return path.resolve()

    def adapter_label(self, adapter: str | None) -> str | None:
        path = self.resolve_adapter(adapter)
        return str(path) if path else None

    def _model_for(self, adapter: Path | None) -> Any:
        """The model to run: the shared base, or its copy with ``adapter`` merged in (call under the lock)."""
        base = self._base()
        if adapter is None:
            return base
        key = f"{self._key}|{adapter}"
        with _registry_lock:
            model = _adapted_models.get(key)
        if model is not None:
            return model
        try:
            from peft import PeftModel

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # A private copy: PEFT injects its layers in place, and the shared base must stay plain.
                model = PeftModel.from_pretrained(copy.deepcopy(base), str(adapter))
                if hasattr(model, "merge_and_unload") and not model.peft_config[model.active_adapter].is_prompt_learning:
                    model = model.merge_and_unload()
        except ImportError:
            raise ModelError("peft is not installed: pip install peft (or use --adapter none)") from None
        except (OSError, ValueError, RuntimeError, KeyError, AttributeError) as exc:
            raise ModelError(f"cannot load adapter {adapter} on {self.model_name}: {str(exc)[:160]}; "
                             "retrain it for this base model or use --adapter none") from None
        model.eval()
        with _registry_lock:
            _adapted_models[key] = model
        return model

    # ---- prompts ---------------------------------------------------------------
    def encode(self, messages: list[Message]) -> dict[str, Any]:
        """Token ids for the chat, using the model's chat template when it has one."""
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            return dict(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                      return_dict=True))
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant: "
        return dict(tokenizer(text, return_tensors="pt"))

    def system_prefix(self, messages: list[Message], input_ids: Any) -> Any | None:
        """Token ids of the system message alone when the prompt starts with them (its KV cache is reusable)."""
        if len(messages) < 2 or messages[0]["role"] != "system" or not getattr(self.tokenizer, "chat_template", None):
            return None
        prefix = self.tokenizer.apply_chat_template(messages[:1], add_generation_prompt=False, return_tensors="pt",
                                                    return_dict=True)["input_ids"]
        size = prefix.shape[1]
        if size >= input_ids.shape[1] or not bool((input_ids[0, :size] == prefix[0]).all()):
            return None
        return prefix

    def _prefix_cache(self, model: Any, adapter: Path | None, prefix: Any) -> Any:
        """A copy of the KV cache of ``prefix`` (computed once per model, adapter and system prompt; call under the lock)."""
        from transformers import DynamicCache

        key = (self._key, str(adapter or ""), tuple(prefix[0].tolist()))
        cache = _prefix_caches.get(key)
        if cache is None:
            cache = DynamicCache()
            model(input_ids=prefix, cache=cache, use_cache=True, logits_to_keep=1)
            _prefix_caches[key] = cache
            while len(_prefix_caches) > _PREFIX_CACHES:
                _prefix_caches.popitem(last=False)
        _prefix_caches.move_to_end(key)
        return copy.deepcopy(cache)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def truncate(self, text: str, max_tokens: int) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= max_tokens:
            return text
        return self.tokenizer.decode(ids[:max_tokens]).rstrip("\ufffd")

    # ---- generation ----------------------------------------------------------------
    def stream(self, messages: list[Message], adapter: str | None = None,
               max_new_tokens: int | None = None, guidance: Guidance | None = None) -> Iterator[str]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        from domainrag.llm.constraints import CitationMarkers

        adapter_path = self.resolve_adapter(adapter)
        inputs = self.encode(messages)
        tokenizer = self.tokenizer
        reply_start = inputs["input_ids"].shape[1]  # the reply prefix counts as reply: a marker may open there
        if guidance is not None and guidance.reply_prefix:  # the reply starts with it: the model writes on
            prefix_ids = tokenizer(guidance.reply_prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
            inputs["input_ids"] = torch.cat([inputs["input_ids"], prefix_ids], dim=1)
            if "attention_mask" in inputs:
                inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        processors = LogitsProcessorList()
        if guidance is not None and guidance.citations:
            processors.append(CitationMarkers(tokenizer, set(guidance.citations), reply_start))
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=self.settings.timeout_s)
        cancelled = threading.Event()
        failure: list[BaseException] = []

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled.is_set()

        kwargs = dict(**inputs, streamer=streamer, do_sample=False,
                      max_new_tokens=int(max_new_tokens or self.settings.max_new_tokens),
                      repetition_penalty=self.settings.repetition_penalty,
                      pad_token_id=tokenizer.pad_token_id, stopping_criteria=StoppingCriteriaList([_Cancel()]),
                      logits_processor=processors)

        prefix = self.system_prefix(messages, inputs["input_ids"])

        def run() -> None:
            try:
                with _generate_lock(self._key), torch.inference_mode():
                    model = self._model_for(adapter_path)
                    # the system prompt's keys/values are computed once, not per question (prompt-learning
                    # adapters bring their own past keys/values, so they go without)
                    if prefix is not None and not hasattr(model, "peft_config"):
                        kwargs["cache"] = self._prefix_cache(model, adapter_path, prefix)
                    model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the consumer thread below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="domainrag-generate", daemon=True)
        thread.start()
        try:
            for text in streamer:
                if failure:
                    break
                text = text.replace("\ufffd", "")  # half a character when generation stops mid-way
                if text:
                    yield text
        except queue.Empty:
            raise ModelError(f"{self.model_name} produced nothing for {self.settings.timeout_s:.0f} s "
                             "(machine overloaded?); raise [generation] timeout_s in pack.toml") from None
        finally:
            cancelled.set()  # the consumer stopped early (or is done): let generate return
            thread.join(self.settings.timeout_s)  # one more step; a running thread aborts the interpreter at exit
        if failure:
            exc = failure[0]
            if isinstance(exc, ModelError):
                raise exc
            raise ModelError(f"generation with {self.model_name} failed: {type(exc).__name__}: {str(exc)[:160]}") from None
