"""Reusable test suites for domainrag backends (``domainrag.testing.chunk_store``)."""
