"""``domainrag ask``: a grounded, cited answer from the pack's knowledge base."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer

from domainrag.cli.common import (AnswerModeOpt, EmbeddingOpt, JsonOpt, KbOpt, PackOpt, TokenOpt, UriOpt,
                                  answer_mode_for, err, handle_errors, open_rag, print_json)
from domainrag.errors import ConfigError

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # Milvus Lite's gRPC channel logs keep-alive chatter while we generate

LlmEndpointOpt = typer.Option(None, "--llm-endpoint", envvar="DOMAINRAG_LLM_ENDPOINT",
                              help="OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1); key from DOMAINRAG_LLM_API_KEY.")
LlmModelOpt = typer.Option(None, "--llm-model", envvar="DOMAINRAG_LLM_MODEL",
                           help="Model name at the endpoint (default: the first it lists).")
BaseModelOpt = typer.Option(None, "--base-model", help="Local model: a Hugging Face model folder or .gguf file (default: the pack's).")
AdapterOpt = typer.Option(None, "--adapter", help="'none' to skip the pack's PEFT adapter, or an adapter folder (an adapter name with an endpoint).")
MaxTokensOpt = typer.Option(None, "--max-new-tokens", min=1, max=4096, help="Cap on generated tokens (default: the pack's, 256).")
ServerOpt = typer.Option(None, "--server", envvar="DOMAINRAG_SERVER", show_envvar=True,
                         help="URL of a running `domainrag serve` (e.g. http://127.0.0.1:8000): it answers, with its "
                              "knowledge base, models and cache already loaded.")
ApiKeyOpt = typer.Option(None, "--api-key", envvar="DOMAINRAG_API_KEY", show_envvar=True,
                         help="The server's API key, with --server.")


MODE_LABELS = {"generated": "generated answer", "extractive": "quoted from the source (extractive)",
               "refused": "no relevant source"}


class _AnswerLine:
    """Whether the answer streaming to stdout has a line still open: a note on stderr then begins a line of its own
    when both streams reach the same terminal or file (a model starts loading while the lead is out)."""

    open = False

    @staticmethod
    def shares_stderr() -> bool:
        try:
            out, error = os.fstat(sys.stdout.fileno()), os.fstat(sys.stderr.fileno())
        except (OSError, ValueError, AttributeError):  # a stream without a file descriptor (captured, closed)
            return False
        return (out.st_dev, out.st_ino) == (error.st_dev, error.st_ino)


def stream_to_stdout(deltas: Iterable[str]) -> None:
    """Write an answer's deltas to stdout as they come, then end its line."""
    for delta in deltas:
        if delta:
            sys.stdout.write(delta)
            sys.stdout.flush()
            _AnswerLine.open = not delta.endswith("\n")
    sys.stdout.write("\n")
    sys.stdout.flush()
    _AnswerLine.open = False


class _WarningsToStderr(logging.Handler):
    """Library warnings (e.g. a question cut to length) as yellow lines on stderr; progress notes (a model loading)
    as dim ones, each on a line of its own."""

    def emit(self, record: logging.LogRecord) -> None:
        style = "yellow" if record.levelno >= logging.WARNING else "dim"
        if _AnswerLine.open and _AnswerLine.shares_stderr():
            _AnswerLine.open = False
            err.print()
        err.print(record.getMessage(), style=style)  # the console reads no markup and highlights nothing


def warnings_to_stderr() -> None:
    """Show the library's warnings, and its progress notes (logger ``domainrag.progress``), on stderr."""
    logger, progress = logging.getLogger("domainrag"), logging.getLogger("domainrag.progress")
    if not any(isinstance(h, _WarningsToStderr) for h in logger.handlers):
        logger.addHandler(_WarningsToStderr(logging.WARNING))
        progress.addHandler(_WarningsToStderr(logging.INFO))
        progress.setLevel(logging.INFO)  # "domainrag"'s handler above takes warnings only, so each shows once


def read_history(path: Path | None) -> list[Any]:
    """A JSON file with ``[{"role", "content"}, ...]`` messages or ``[[question, answer], ...]`` pairs."""
    if path is None:
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"history file {path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"history file {path} is not valid JSON ({exc}); give a list of {{role, content}} messages") from None
    if not isinstance(data, list):
        raise ConfigError(f"history file {path}: expected a JSON list of {{role, content}} messages")
    return data


def print_sources(answer: Any) -> None:
    """The numbered sources after the answer (cited ones; otherwise those the model was given)."""
    from domainrag.prompts import passage_header

    listed, heading = answer.citations, "Sources"
    if not listed and answer.sources:
        listed, heading = answer.sources, "Sources given to the model (none cited)"
    if not listed:
        return
    lines = [f"\n{heading}:"]
    for c in listed:
        header = passage_header(c) or c.source
        snippet = " ".join(c.text.split())
        lines.append(f"[{c.n}] {header} — {c.source}")
        lines.append(f"    {snippet[:160]}{'…' if len(snippet) > 160 else ''}")
    sys.stdout.write("\n".join(lines) + "\n")


def refuse_local_options(**given: Any) -> None:
    """With ``--server`` the server's knowledge base and models answer: options that choose them here would be
    ignored, so they are refused."""
    named = [f"--{name.replace('_', '-')}" for name, value in given.items() if value is not None]
    if named:
        raise ConfigError(f"{', '.join(named)} choose what answers locally; with --server the server's own settings "
                          "answer (set them on `domainrag serve`), so leave them out")


@handle_errors
def ask(
    question: str = typer.Argument(..., help="The question."),
    pack: str = PackOpt, kb: str = KbOpt, uri: str = UriOpt, token: str = TokenOpt, as_json: bool = JsonOpt,
    no_stream: bool = typer.Option(False, "--no-stream", help="Print the answer when it is complete."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Bypass the semantic cache."),
    k: int = typer.Option(None, "--k", "-k", min=1, max=50, help="Passages to retrieve (default: the pack's)."),
    history: Path = typer.Option(None, "--history", help="JSON file with the conversation so far (for follow-ups)."),
    adapter: str = AdapterOpt, llm_endpoint: str = LlmEndpointOpt, llm_model: str = LlmModelOpt,
    base_model: str = BaseModelOpt, max_new_tokens: int = MaxTokensOpt, embedding_model: str = EmbeddingOpt,
    mode: str = AnswerModeOpt, server: str = ServerOpt, api_key: str = ApiKeyOpt,
) -> None:
    """Answer a question from the knowledge base, citing the passages it uses by number ([1], [2], ...)."""
    warnings_to_stderr()
    turns = read_history(history)
    options = dict(use_cache=not no_cache, k=k, adapter=adapter, max_new_tokens=max_new_tokens)
    answer = None
    if server:
        from domainrag.cli.remote import ask_server

        refuse_local_options(uri=uri, kb=kb, embedding_model=embedding_model, base_model=base_model, mode=mode)
        if Path(pack).expanduser().is_dir():  # a pack folder: the server knows it by the name in its pack.toml
            from domainrag.packs import load_pack

            pack = load_pack(pack).name
        stream = ask_server(server, pack, question, turns, api_key=api_key, stream=not (as_json or no_stream),
                            **options)
    else:
        rag = open_rag(pack, uri, kb, embedding_model, token).with_llm(
            endpoint=llm_endpoint, model=llm_model, base_model=base_model,
            answer_mode=answer_mode_for(mode, llm_endpoint, base_model))
        # a repeated question is served from the cache before Milvus, the models or LangChain start; Milvus starts
        # beside a lookup that must embed the question (most such lookups miss)
        answer = None if no_cache else rag.cached_answer(question, turns, k=k, adapter=adapter,
                                                         max_new_tokens=max_new_tokens, warm_up_milvus=True)
        if answer is None:
            rag.warm_up()
            stream = rag.stream(question, turns, **options)
    if answer is None and (as_json or no_stream):
        answer = stream.answer
    if as_json:
        print_json(answer.to_dict())
        return
    if answer is None:
        stream_to_stdout(stream)
        answer = stream.answer
    else:
        sys.stdout.write(answer.answer + "\n")
    if answer.disclaimer:
        sys.stdout.write(f"\n{answer.disclaimer}\n")
    print_sources(answer)
    sys.stdout.flush()
    t = answer.timings
    model = answer.model + (" + " + Path(answer.adapter).name if answer.adapter else "")
    wrote = answer.mode == "generated"  # the model is named only when its words are shown (a cache hit too)
    stages = [f"{label} {t[key]:.0f} ms" for key, label in
              (("retrieve_ms", "retrieve"), ("first_token_ms", "first token"), ("total_ms", "total")) if key in t]
    err.print(f"{MODE_LABELS.get(answer.mode, answer.mode)}{' · ' + model if wrote else ''}"
              f"{f'  cache hit (similarity {answer.similarity})' if answer.cache_hit else ''}"
              f"{f'  answered by {server}' if server else ''}  {' · '.join(stages)}", style="dim")
