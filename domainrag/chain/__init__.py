"""The answer path: retrieval chain, follow-up rewriting, relevance floor and citation checking."""

from domainrag.chain.answer_chain import AnswerChain, AnswerSettings, Turn

__all__ = ["AnswerChain", "AnswerSettings", "Turn"]
