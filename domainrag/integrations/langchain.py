"""LangChain: a ``BaseRetriever`` over a DomainRAG knowledge base, and the answer chain as a ``Runnable``.

    from domainrag import DomainRAG
    from domainrag.integrations.langchain import DomainRAGRetriever, answer_runnable

    rag = DomainRAG.from_pack("law")
    docs = DomainRAGRetriever(rag=rag, k=3).invoke("盗窃罪怎么处罚？")        # list[Document]
    out = answer_runnable(rag).invoke({"question": "盗窃罪怎么处罚？"})      # {"answer": str, "result": Answer}
    for chunk in answer_runnable(rag).stream("盗窃罪怎么处罚？"): ...         # {"answer": delta} …, {"result": Answer}
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable
from pydantic import ConfigDict

from domainrag.retrieve import Hit


def hit_to_document(hit: Hit) -> Document:
    """A retrieved chunk as a LangChain ``Document`` (chunk id, source, title, section, score in metadata)."""
    return Document(page_content=hit.text, id=hit.chunk_id,
                    metadata={"chunk_id": hit.chunk_id, "source": hit.source, "title": hit.title,
                              "section": hit.section, "score": hit.score, "rank": hit.rank, **hit.metadata})


class DomainRAGRetriever(BaseRetriever):
    """Hybrid (or dense / BM25) search of a DomainRAG knowledge base.

    ``k`` and ``mode`` may also be given per call, as LangChain passes retriever keyword arguments through:
    ``retriever.invoke(query, k=10)``, ``await retriever.ainvoke(query, mode="bm25")``. The async path runs the
    search in a worker thread, so it never blocks the event loop."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rag: Any
    k: int | None = None
    mode: str | None = None

    def _search(self, query: str, k: int | None, mode: str | None) -> list[Document]:
        return [hit_to_document(hit) for hit in self.rag.search(query, k=k or self.k, mode=mode or self.mode)]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, mode: str | None = None) -> list[Document]:
        return self._search(query, k, mode)

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None, mode: str | None = None) -> list[Document]:
        import asyncio

        return await asyncio.to_thread(self._search, query, k, mode)


def answer_runnable(rag: Any) -> Runnable:
    """The whole answer path as an LCEL Runnable. Input: a question string or ``{"question", "history", "k",
    "adapter", "use_cache"}``; streamed output: ``{"answer": delta}`` chunks then ``{"result": Answer}``."""
    return rag.answer_chain.runnable
