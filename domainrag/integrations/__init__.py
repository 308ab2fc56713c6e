"""Adapters for other frameworks: ``domainrag.integrations.langchain`` and ``domainrag.integrations.llamaindex``."""
