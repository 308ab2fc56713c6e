"""LlamaIndex: a retriever returning ``NodeWithScore`` and the pack's generator as an LLM.

    from llama_index.core.query_engine import RetrieverQueryEngine
    from domainrag.integrations.llamaindex import DomainRAGLlamaRetriever, DomainRAGLLM

    engine = RetrieverQueryEngine.from_args(DomainRAGLlamaRetriever(rag, k=3), llm=DomainRAGLLM.from_rag(rag))
    response = engine.query("盗窃罪怎么处罚？")        # response.response, response.source_nodes
"""

from __future__ import annotations

from typing import Any

from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import PrivateAttr

from domainrag.retrieve import Hit


def hit_to_node(hit: Hit) -> NodeWithScore:
    """A retrieved chunk as a scored ``TextNode`` (id = chunk id)."""
    node = TextNode(id_=hit.chunk_id, text=hit.text,
                    metadata={"source": hit.source, "title": hit.title, "section": hit.section, "rank": hit.rank})
    return NodeWithScore(node=node, score=hit.score)


class DomainRAGLlamaRetriever(BaseRetriever):
    """Hybrid (or dense / BM25) search of a DomainRAG knowledge base, for LlamaIndex query engines.

    ``k`` is also readable and settable as ``similarity_top_k``, LlamaIndex's name for it; ``aretrieve`` runs the
    search in a worker thread."""

    def __init__(self, rag: Any, k: int | None = None, mode: str | None = None,
                 similarity_top_k: int | None = None, **kwargs: Any) -> None:
        self.rag, self.k, self.mode = rag, similarity_top_k or k, mode
        super().__init__(**kwargs)

    @property
    def similarity_top_k(self) -> int | None:
        return self.k

    @similarity_top_k.setter
    def similarity_top_k(self, value: int | None) -> None:
        self.k = value

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [hit_to_node(hit) for hit in self.rag.search(query_bundle.query_str, k=self.k, mode=self.mode)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        import asyncio

        return await asyncio.to_thread(self._retrieve, query_bundle)


class DomainRAGLLM(CustomLLM):
    """A DomainRAG generator (local model + adapter, or an endpoint) as a LlamaIndex completion LLM."""

    context_window: int = 4096
    num_output: int = 256
    model_name: str = "domainrag"
    adapter: str | None = None
    _generator: Any = PrivateAttr()

    def __init__(self, generator: Any, **kwargs: Any) -> None:
        settings = getattr(generator, "settings", None)
        kwargs.setdefault("num_output", getattr(settings, "max_new_tokens", 256))
        super().__init__(model_name=generator.model_name, **kwargs)
        self._generator = generator

    @classmethod
    def from_rag(cls, rag: Any, **kwargs: Any) -> "DomainRAGLLM":
        return cls(rag.generator, **kwargs)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.num_output, model_name=self.model_name)

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": prompt}]

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        text = self._generator.generate(self._messages(prompt), adapter=self.adapter, max_new_tokens=self.num_output)
        return CompletionResponse(text=text)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = ""
        for delta in self._generator.stream(self._messages(prompt), adapter=self.adapter, max_new_tokens=self.num_output):
            text += delta
            yield CompletionResponse(text=text, delta=delta)
