"""The OpenAI-compatible server on loopback, driven by the official ``openai`` client; the endpoint generator
round trip; an endpoint that is down or answers garbage."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import openai
import pytest

from domainrag import DomainRAG
from domainrag.errors import ModelError
from domainrag.llm.base import GenerationSettings
from domainrag.llm.endpoint import EndpointGenerator
from loopback import free_port, serve_app
from test_ask import THEFT, make_rag


@pytest.fixture(scope="module")
def server(law_rag: DomainRAG) -> Iterator[str]:
    """``domainrag serve`` in-process (the Milvus Lite file allows one process) on a free loopback port."""
    from domainrag.server import create_app

    with serve_app(create_app(make_rag(law_rag, max_new_tokens=6))) as url:
        yield f"{url}/v1"


@pytest.fixture(scope="module")
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server, api_key="unused", max_retries=0, timeout=120)


def test_models_lists_the_packs(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "law" in ids


@pytest.mark.slow
def test_chat_completion_with_citations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="law", messages=[{"role": "user", "content": THEFT}],
                                                extra_body={"adapter": "none"})
    assert completion.object == "chat.completion" and completion.model == "law"
    text = completion.choices[0].message.content
    assert text and completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra
    assert extra["domainrag"]["model"] == "SmolLM2-135M-Instruct" and extra["domainrag"]["no_context"] is False
    for citation in extra["citations"]:
        assert f"[{citation['n']}]" in text and citation["chunk_id"]


@pytest.mark.slow
def test_streamed_chat_completion_and_history(client: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "ignored: the pack sets the prompt"},
                {"role": "user", "content": "盗窃罪怎么处罚？"}, {"role": "assistant", "content": "……"},
                {"role": "user", "content": "那它的刑期呢？"}]
    chunks = list(client.chat.completions.create(model="law", messages=messages, stream=True, max_tokens=4))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and text
    assert last.model_extra["domainrag"]["standalone_question"] == "盗窃罪的刑期呢？"
    assert isinstance(last.model_extra["citations"], list)


def test_errors_come_back_as_openai_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="unknown model"):
        client.chat.completions.create(model="no-such-pack", messages=[{"role": "user", "content": THEFT}])
    with pytest.raises(openai.BadRequestError, match="empty question"):
        client.chat.completions.create(model="law", messages=[{"role": "user", "content": "  "}])
    with pytest.raises(openai.BadRequestError, match="no user message"):
        client.chat.completions.create(model="law", messages=[{"role": "system", "content": "hi"}])


@pytest.mark.slow
def test_endpoint_generator_round_trip(server: str, law_rag: DomainRAG) -> None:
    generator = EndpointGenerator(server, model="law", settings=GenerationSettings(max_new_tokens=4))
    assert generator.model_name == "law"
    assert "".join(generator.stream([{"role": "user", "content": THEFT}], max_new_tokens=4))
    rag = make_rag(law_rag, generator=generator)
    answer = rag.ask(THEFT)
    assert answer.model == "law" and answer.answer and answer.sources
    assert EndpointGenerator(server).model_name  # the first model the server lists


def test_endpoint_down_or_garbage_is_one_clear_error() -> None:
    down = EndpointGenerator(f"http://127.0.0.1:{free_port()}/v1", model="x")
    with pytest.raises(ModelError, match="unreachable"):
        down.generate([{"role": "user", "content": "hi"}])

    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>not an API</html>")

        do_GET = do_POST

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        garbage = EndpointGenerator(f"http://127.0.0.1:{httpd.server_address[1]}/v1", model="x")
        with pytest.raises(ModelError, match="garbage"):
            garbage.generate([{"role": "user", "content": "hi"}])
        with pytest.raises(ModelError):
            EndpointGenerator(f"http://127.0.0.1:{httpd.server_address[1]}/v1").model_name
    finally:
        httpd.shutdown()
    with pytest.raises(ModelError, match="http"):
        EndpointGenerator("localhost:8000")
