"""LangChain and LlamaIndex adapters, each driven through its own framework's API on the real law KB."""

from __future__ import annotations

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from domainrag import Answer, DomainRAG
from test_ask import THEFT, ScriptedGenerator, make_rag


def test_langchain_retriever_in_an_lcel_chain(law_rag: DomainRAG) -> None:
    from langchain_core.documents import Document
    from langchain_core.runnables import RunnableLambda

    from domainrag.integrations.langchain import DomainRAGRetriever

    retriever = DomainRAGRetriever(rag=law_rag, k=3)
    docs = retriever.invoke(THEFT)
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    assert docs[0].page_content.startswith("第二百六十四条") and docs[0].metadata["title"] == "中华人民共和国刑法"
    assert docs[0].id == docs[0].metadata["chunk_id"]
    chain = retriever | RunnableLambda(lambda found: [d.metadata["chunk_id"] for d in found])
    batch = chain.batch([THEFT, "个人独资企业的投资人对企业债务承担什么责任？"])
    assert batch[0] == [d.metadata["chunk_id"] for d in docs] and batch[0] != batch[1]
    bm25 = DomainRAGRetriever(rag=law_rag, k=2, mode="bm25").invoke(THEFT)
    assert len(bm25) == 2 and bm25[0].metadata["rank"] == 1


def test_langchain_answer_runnable(law_rag: DomainRAG) -> None:
    from domainrag.integrations.langchain import answer_runnable

    runnable = answer_runnable(make_rag(law_rag, generator=ScriptedGenerator()))
    result = runnable.invoke({"question": THEFT})
    assert isinstance(result["result"], Answer) and result["answer"] == result["result"].answer
    assert [c.n for c in result["result"].citations] == [1]
    chunks = list(runnable.stream({"question": THEFT, "use_cache": False}))
    assert len([c for c in chunks if "answer" in c]) >= 2 and isinstance(chunks[-1]["result"], Answer)
    steps = StepNames()
    runnable.invoke({"question": THEFT, "use_cache": False}, config={"callbacks": [steps]})
    assert {"validate", "rewrite", "cache_lookup", "retrieve", "generate_and_cite"} <= set(steps.names)


class StepNames(BaseCallbackHandler):
    """Records the names of the LCEL steps that run."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_chain_start(self, serialized, inputs, **kwargs) -> None:
        self.names.append(kwargs.get("name") or "")


def test_llamaindex_retriever(law_rag: DomainRAG) -> None:
    from llama_index.core.schema import NodeWithScore

    from domainrag.integrations.llamaindex import DomainRAGLlamaRetriever

    nodes = DomainRAGLlamaRetriever(law_rag, k=3).retrieve(THEFT)
    assert len(nodes) == 3 and all(isinstance(n, NodeWithScore) for n in nodes)
    assert nodes[0].node.get_content().startswith("第二百六十四条")
    assert nodes[0].score >= nodes[1].score and nodes[0].node.metadata["title"] == "中华人民共和国刑法"


@pytest.mark.slow
def test_llamaindex_query_engine_with_the_local_model(law_rag: DomainRAG) -> None:
    from llama_index.core.query_engine import RetrieverQueryEngine

    from domainrag.integrations.llamaindex import DomainRAGLlamaRetriever, DomainRAGLLM

    rag = make_rag(law_rag, max_new_tokens=4)
    retriever = DomainRAGLlamaRetriever(rag, k=2)
    llm = DomainRAGLLM.from_rag(rag, adapter="none")
    assert llm.metadata.model_name == "SmolLM2-135M-Instruct" and llm.num_output == 4
    response = RetrieverQueryEngine.from_args(retriever, llm=llm).query(THEFT)
    assert str(response).strip()
    assert [n.node.node_id for n in response.source_nodes] == [n.node.node_id for n in retriever.retrieve(THEFT)]
    streamed = RetrieverQueryEngine.from_args(retriever, llm=llm, streaming=True).query(THEFT)
    assert "".join(streamed.response_gen).strip() == str(response).strip()


def test_retrievers_take_k_per_call_and_work_async(law_rag: DomainRAG) -> None:
    import asyncio

    from llama_index.core.schema import QueryBundle

    from domainrag.integrations.langchain import DomainRAGRetriever
    from domainrag.integrations.llamaindex import DomainRAGLlamaRetriever

    retriever = DomainRAGRetriever(rag=law_rag, k=2)
    assert len(retriever.invoke(THEFT)) == 2 and len(retriever.invoke(THEFT, k=4)) == 4
    assert [d.id for d in asyncio.run(retriever.ainvoke(THEFT, k=3))] == [d.id for d in retriever.invoke(THEFT, k=3)]
    assert len(asyncio.run(retriever.abatch([THEFT, "农民专业合作社联合社怎么设立？"]))[1]) == 2
    llama = DomainRAGLlamaRetriever(law_rag, similarity_top_k=3)
    assert llama.similarity_top_k == 3
    nodes = asyncio.run(llama.aretrieve(QueryBundle(THEFT)))
    assert [n.node.node_id for n in nodes] == [n.node.node_id for n in llama.retrieve(THEFT)] and len(nodes) == 3
