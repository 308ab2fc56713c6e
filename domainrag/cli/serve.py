"""``domainrag serve``: the OpenAI-compatible HTTP API (``/v1/models``, ``/v1/chat/completions``)."""

from __future__ import annotations

import os
import socket

import typer

from domainrag.cli.ask import BaseModelOpt, LlmEndpointOpt, LlmModelOpt, warnings_to_stderr
from domainrag.cli.common import EmbeddingOpt, KbOpt, PackOpt, UriOpt, err, handle_errors, open_rag
from domainrag.errors import ConfigError

os.environ.setdefault("GRPC_VERBOSITY", "NONE")


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None


@handle_errors
def serve(
    pack: str = PackOpt, kb: str = KbOpt, uri: str = UriOpt,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    llm_endpoint: str = LlmEndpointOpt, llm_model: str = LlmModelOpt, base_model: str = BaseModelOpt,
    embedding_model: str = EmbeddingOpt,
) -> None:
    """Serve RAG answers over an OpenAI-compatible API; citations come back in an extra field."""
    import uvicorn

    from domainrag.server import create_app

    _check_port(host, port)
    warnings_to_stderr()
    rag = open_rag(pack, uri, kb, embedding_model).with_llm(endpoint=llm_endpoint, model=llm_model, base_model=base_model)
    if not rag.store.has_kb(rag.kb):
        raise ConfigError(f"knowledge base {rag.kb!r} does not exist at {rag.uri}: "
                          f"run `domainrag ingest PATH --pack {rag.pack.name}` first")
    err.print(f"loading {rag.pack.name} (kb {rag.kb}) …")
    rag.search("warm up", k=1)
    load = getattr(rag.generator, "load", None)
    if load is not None:
        load()
    err.print(f"serving pack {rag.pack.name} on http://{host}:{port}/v1 (OpenAI-compatible; Ctrl-C stops)")
    uvicorn.run(create_app(rag), host=host, port=port, log_level="warning")
