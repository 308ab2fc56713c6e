"""Shared CLI plumbing: options, one-line errors on stderr, JSON on stdout."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from domainrag.errors import DomainRAGError

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)  # one error = one line, even when piped
out = Console(highlight=False, soft_wrap=True, markup=False)

PackOpt = typer.Option(..., "--pack", "-p", help="Pack name (law, finance, ...) or a pack folder path.")
KbOpt = typer.Option(None, "--kb", help="Knowledge base name (default: the pack's name).")
UriOpt = typer.Option(None, "--uri", help="Milvus URI: a Lite .db file (default ~/.domainrag/milvus.db) or http://host:19530.")
TokenOpt = typer.Option(None, "--token", envvar="DOMAINRAG_MILVUS_TOKEN", show_envvar=True,
                        help="Milvus token for a server with authentication (user:password or an API key).")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
EmbeddingOpt = typer.Option(None, "--embedding-model", help="Embedding model: a sentence-transformers name or folder, "
                             "or a static-embedding folder (overrides the knowledge base's and the pack's).")

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR = 0, 1, 2


class _AtLeastWarning(logging.Filter):
    """Lets through warnings and errors only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def quiet_libraries() -> None:
    """Offline hub, no tokenizer fork warnings, no jieba chatter on stderr."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # gRPC's C core logs keepalive GOAWAYs between pymilvus and the in-process Milvus Lite server.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

    # jieba resets its logger to DEBUG when imported; a filter on that logger outlives the import, so jieba need
    # not be imported here (a cache hit never imports it)
    jieba_logger = logging.getLogger("jieba")
    if not any(isinstance(f, _AtLeastWarning) for f in jieba_logger.filters):
        jieba_logger.addFilter(_AtLeastWarning())


def fail(message: str, code: int = EXIT_ERROR) -> None:
    """Print one error line to stderr and exit."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    raise typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn domain errors into one stderr line and exit code 2; Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        quiet_libraries()
        try:
            return fn(*args, **kwargs)
        except DomainRAGError as exc:
            fail(str(exc))
        except Exception as exc:
            from pymilvus.exceptions import MilvusException

            if isinstance(exc, MilvusException):
                fail(f"Milvus refused the operation: {getattr(exc, 'message', exc)}")
            raise
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


AnswerModeOpt = typer.Option(None, "--mode", help="grounded: the model writes, every sentence checked against the "
                             "sources; extractive: the best source's clause, no model. Default: the pack's, or "
                             "grounded when --llm-endpoint or --base-model names a model.")


def answer_mode_for(mode: str | None, llm_endpoint: str | None, base_model: str | None) -> str | None:
    """``--mode`` as given; else ``grounded`` when a model is named on the command line (it is there to write);
    else None (the pack's ``[answer] mode``)."""
    if mode is None and (llm_endpoint or base_model):
        return "grounded"
    return mode


def open_rag(pack: str, uri: str | None, kb: str | None, embedding_model: str | None = None,
             token: str | None = None) -> Any:
    from domainrag.rag import DomainRAG

    return DomainRAG.from_pack(pack, uri=uri, kb=kb, embedding_model=embedding_model, token=token)
