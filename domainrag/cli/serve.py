"""``domainrag serve``: the OpenAI-compatible HTTP API (``/v1/models``, ``/v1/chat/completions``, ``/health``)."""

from __future__ import annotations

import ipaddress
import os
import socket

import typer

from domainrag.cli.ask import BaseModelOpt, LlmEndpointOpt, LlmModelOpt, warnings_to_stderr
from domainrag.cli.common import (AnswerModeOpt, EmbeddingOpt, KbOpt, PackOpt, TokenOpt, UriOpt, answer_mode_for,
                                  err, handle_errors, open_rag)
from domainrag.errors import ConfigError

os.environ.setdefault("GRPC_VERBOSITY", "NONE")


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None


def is_loopback(host: str) -> bool:
    """True for localhost and 127.0.0.0/8 / ::1; any other address or name may be reachable from outside."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None, insecure: bool) -> None:
    """Refuse to listen beyond loopback without an API key (unless the operator says --insecure)."""
    if not api_key and not insecure and not is_loopback(host):
        raise ConfigError(f"refusing to serve on {host} without an API key: set --api-key (or DOMAINRAG_API_KEY), "
                          "bind --host 127.0.0.1, or pass --insecure if a proxy in front authenticates")


@handle_errors
def serve(
    pack: str = PackOpt, kb: str = KbOpt, uri: str = UriOpt, token: str = TokenOpt,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all; needs --api-key)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    llm_endpoint: str = LlmEndpointOpt, llm_model: str = LlmModelOpt, base_model: str = BaseModelOpt,
    embedding_model: str = EmbeddingOpt, mode: str = AnswerModeOpt,
    api_key: str = typer.Option(None, "--api-key", envvar="DOMAINRAG_API_KEY",
                                help="Clients must send Authorization: Bearer KEY (/health stays open)."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow a non-loopback --host without an API key."),
    max_tokens_limit: int = typer.Option(512, "--max-tokens-limit", min=1, help="Cap on a request's max_tokens."),
    max_body_kb: int = typer.Option(1024, "--max-body-kb", min=1, help="Largest request body (KB); larger gets 413."),
    max_concurrent: int = typer.Option(1, "--max-concurrent", min=1, help="Answers generated at once."),
    max_queue: int = typer.Option(8, "--max-queue", min=0, help="Requests waiting for a slot; more get 429."),
    queue_timeout: float = typer.Option(30.0, "--queue-timeout", min=0.1,
                                        help="Seconds a request waits for a slot before 429."),
    debug: bool = typer.Option(False, "--debug", help="Show cache hits, similarity, timings and the standalone "
                                                      "question to clients (reveals what others asked)."),
) -> None:
    """Serve RAG answers over an OpenAI-compatible API; citations come back in an extra field."""
    import uvicorn

    from domainrag.server import create_app
    from domainrag.server_limits import ServeSettings, uvicorn_config

    check_exposure(host, api_key, insecure)
    _check_port(host, port)
    settings = ServeSettings(api_key=api_key or None, max_tokens_limit=max_tokens_limit, max_body_kb=max_body_kb,
                             max_concurrent=max_concurrent, max_queue=max_queue, queue_timeout_s=queue_timeout,
                             debug=debug)
    warnings_to_stderr()
    rag = open_rag(pack, uri, kb, embedding_model, token).with_llm(
        endpoint=llm_endpoint, model=llm_model, base_model=base_model,
        answer_mode=answer_mode_for(mode, llm_endpoint, base_model))
    if not rag.store.has_kb(rag.kb):
        raise ConfigError(f"knowledge base {rag.kb!r} does not exist at {rag.uri}: "
                          f"run `domainrag ingest PATH --pack {rag.pack.name}` first")
    err.print(f"loading {rag.pack.name} (kb {rag.kb}) …")
    for thread in rag.warm_up():  # Milvus, the embedding model, jieba, LangChain: not on the first request
        thread.join()
    rag.search("warm up", k=1)
    if rag.answer_chain.settings.mode != "extractive":  # an extractive answer never runs the model
        load = getattr(rag.generator, "load", None)
        if load is not None:
            load()
    access = "API key required" if settings.api_key else "no API key"
    err.print(f"serving pack {rag.pack.name} on http://{host}:{port}/v1 (OpenAI-compatible; {access}; Ctrl-C stops)")
    uvicorn.Server(uvicorn_config(create_app(rag, settings), host, port, settings)).run()
