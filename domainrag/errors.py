"""Errors that reach the user as one clear line (what went wrong, where, and the fix)."""

from __future__ import annotations


class DomainRAGError(Exception):
    """Base class: its message is printed as-is by the CLI, without a traceback."""


class ConfigError(DomainRAGError):
    """A bad setting, an unknown pack, an invalid knowledge-base name."""


class ModelError(DomainRAGError):
    """A model that cannot be found or loaded; the message names what to install."""


class StoreError(DomainRAGError):
    """Milvus could not be reached or refused an operation."""


class ServerError(DomainRAGError):
    """A domainrag server (``ask --server``) refused the request or broke off its answer."""
