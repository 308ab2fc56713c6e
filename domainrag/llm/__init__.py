"""Generators: a local transformers model (optionally with a PEFT adapter) or an OpenAI-compatible endpoint."""
