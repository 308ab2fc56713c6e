"""The OpenAI-compatible server on loopback, driven by the official ``openai`` client; the endpoint generator
round trip; an endpoint that is down or answers garbage; what a request may choose (adapter by pack name,
capped max_tokens, the operator's upstream model), OpenAI-shaped 4xx for every bad body, the API key, and
what answers show (no server paths; cache details for the operator only)."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient

from domainrag import DomainRAG
from domainrag.errors import ModelError
from domainrag.llm.base import GenerationSettings, Generator
from domainrag.llm.endpoint import EndpointGenerator
from domainrag.server import create_app
from domainrag.server_limits import ServeSettings
from loopback import free_port, serve_app
from test_ask import THEFT, make_rag

USER = [{"role": "user", "content": THEFT}]


class SlowGenerator(Generator):
    """A stand-in LLM: one character of the first passage every ``delay`` s up to ``max_new_tokens`` (grounded
    text, never a finished sentence, so the answer chain keeps reading). Records what each request asked for and
    whether a stream was closed before its end. Adapters are folders, labelled by path, as a local model's."""

    model_name = "slow"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.closed, self.finished = threading.Event(), threading.Event()

    def resolve_adapter(self, adapter: str | None) -> Path | None:
        return None if adapter == "none" else Path(adapter or "/srv/domains/law/adapter")

    def adapter_label(self, adapter: str | None) -> str | None:
        path = self.resolve_adapter(adapter)
        return str(path) if path else None

    def stream(self, messages, adapter=None, max_new_tokens=None, guidance=None) -> Iterator[str]:
        self.requests.append({"adapter": adapter, "max_new_tokens": max_new_tokens})
        passage = re.search(r"\[1\][^\n]*\n([^\n]+)", messages[-1]["content"])
        words = re.sub(r"[。！？；;!?\[\]【】]", "", passage.group(1) if passage else "") or "词"
        done = False
        try:
            for i in range(max_new_tokens or 8):
                time.sleep(self.delay)
                yield words[i % len(words)]
            done = True
        finally:
            (self.finished if done else self.closed).set()


def fake_app(law_rag: DomainRAG, generator: Generator | None = None, kb: str | None = None, **settings: Any) -> Any:
    """The real app over the small law KB with a stand-in generator."""
    rag = make_rag(law_rag, generator=generator or SlowGenerator())
    if kb:
        rag = DomainRAG.from_pack(rag.pack, uri=law_rag.uri, kb=kb).with_llm(generator=rag.generator)
    return create_app(rag, ServeSettings(**settings))


@pytest.fixture(scope="module")
def server(law_rag: DomainRAG) -> Iterator[str]:
    """``domainrag serve`` in-process (the Milvus Lite file allows one process) on a free loopback port."""
    with serve_app(create_app(make_rag(law_rag, max_new_tokens=6), ServeSettings(debug=True))) as url:
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


# ---- what a request may ask for -------------------------------------------------------------------
BAD_BODIES = {
    "model not a string": ({"model": ["law"], "messages": USER}, "model"),
    "max_tokens not a number": ({"messages": USER, "max_tokens": "abc"}, "max_tokens"),
    "max_tokens negative": ({"messages": USER, "max_tokens": -5}, "max_tokens"),
    "k not a number": ({"messages": USER, "k": "abc"}, "k"),
    "k too large": ({"messages": USER, "k": 100000}, "k"),
    "adapter not a string": ({"messages": USER, "adapter": ["x"]}, "adapter"),
    "adapter a server path": ({"messages": USER, "adapter": "/any/server/path"}, "adapter"),
    "text part not text": ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
                           "messages.0.content.0.text"),
    "use_cache a string": ({"messages": USER, "use_cache": "false"}, "use_cache"),
    "stream a string": ({"messages": USER, "stream": "yes"}, "stream"),
    "no messages": ({"model": "law"}, "messages"),
    "no user message": ({"messages": [{"role": "system", "content": "hi"}]}, "messages"),
    "malformed JSON": (b'{"model": "law", "messages": [', None),
    "a list body": (b"[1, 2]", None),
    "an empty body": (b"", None),
}


@pytest.fixture(scope="module")
def fake(law_rag: DomainRAG) -> Iterator[tuple[TestClient, SlowGenerator]]:
    generator = SlowGenerator()
    with TestClient(fake_app(law_rag, generator, max_tokens_limit=40)) as http:
        yield http, generator


@pytest.mark.parametrize("body, param", BAD_BODIES.values(), ids=list(BAD_BODIES))
def test_bad_requests_are_openai_400s(fake: tuple[TestClient, SlowGenerator], body: Any, param: str | None) -> None:
    http, _ = fake
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = http.post("/v1/chat/completions", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert error["param"] == param and error["message"]


def test_unknown_routes_and_methods_are_openai_errors(fake: tuple[TestClient, SlowGenerator]) -> None:
    http, _ = fake
    for response, status in ((http.get("/v1/nothing"), 404), (http.get("/v1/chat/completions"), 405)):
        assert response.status_code == status and set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_max_tokens_is_capped_and_adapters_are_pack_names(fake: tuple[TestClient, SlowGenerator]) -> None:
    http, generator = fake
    answer = http.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 100000, "use_cache": False})
    assert answer.status_code == 200 and generator.requests[-1]["max_new_tokens"] == 40
    assert answer.json()["domainrag"]["adapter"] == "law"  # the pack's own adapter, by name, not its folder
    http.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 3, "adapter": "law"})
    assert generator.requests[-1] == {"adapter": str(DomainRAG.from_pack("law").pack.adapter_dir), "max_new_tokens": 3}
    none = http.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 3, "adapter": "none"}).json()
    assert generator.requests[-1]["adapter"] == "none" and none["domainrag"]["adapter"] is None


def test_answers_show_no_server_paths_nor_other_clients_questions(law_rag: DomainRAG) -> None:
    body = {"messages": USER, "max_tokens": 3}
    with TestClient(fake_app(law_rag)) as http:
        details = http.post("/v1/chat/completions", json=body).json()["domainrag"]
    assert details["model"] == "slow" and details["adapter"] == "law" and details["no_context"] is False
    assert not {"cache_hit", "similarity", "standalone_question", "timings"} & set(details)
    with TestClient(fake_app(law_rag, debug=True)) as http:
        details = http.post("/v1/chat/completions", json=body).json()["domainrag"]
    assert details["cache_hit"] is False and details["standalone_question"] == THEFT
    assert "total_ms" in details["timings"]
    with TestClient(fake_app(law_rag, kb="not_ingested")) as http:
        missing = http.post("/v1/chat/completions", json=body)
    assert missing.status_code == 400
    assert "knowledge base 'not_ingested' does not exist at this server" in missing.json()["error"]["message"]
    assert law_rag.uri not in missing.text and str(Path.home()) not in missing.text


def test_api_key_guards_everything_but_health(law_rag: DomainRAG) -> None:
    with TestClient(fake_app(law_rag, api_key="s3cret")) as http:
        assert http.get("/health").json()["status"] == "ok"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            refused = http.get("/v1/models", headers=headers)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        assert http.post("/v1/chat/completions", json={"messages": USER}).status_code == 401
        assert http.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_serve_refuses_a_public_address_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from domainrag.cli.main import app

    monkeypatch.delenv("DOMAINRAG_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--pack", "law", "--host", "0.0.0.0", "--port", str(free_port())])
    assert result.exit_code == 2 and "--api-key" in result.output and "--insecure" in result.output


class RecordingUpstream(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream that records the model each chat request names and replies "好"."""

    models: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._reply("application/json", json.dumps({"object": "list", "data": [{"id": "first", "object": "model"}]}))

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        RecordingUpstream.models.append(body["model"])
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "delta": {"content": "好"}, "finish_reason": None}]}
        self._reply("text/event-stream", f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n")

    def _reply(self, kind: str, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def test_the_upstream_model_is_the_operators(law_rag: DomainRAG) -> None:
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    RecordingUpstream.models.clear()
    try:
        rag = make_rag(law_rag, endpoint=f"http://127.0.0.1:{upstream.server_address[1]}/v1", model="operator-model")
        with TestClient(create_app(rag)) as http_client:
            def ask(**extra: Any) -> Any:
                return http_client.post("/v1/chat/completions", json={"model": "law", "messages": USER, **extra})

            assert ask().status_code == 200
            assert ask(adapter="gpt-4o").status_code == 400
            assert ask(adapter="law").json()["domainrag"]["adapter"] == "law"
    finally:
        upstream.shutdown()
    assert RecordingUpstream.models == ["operator-model", "law"]  # LoRA adapters are served by pack name
