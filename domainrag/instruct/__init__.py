"""Instruction data: pack builders' examples, filters, de-duplication, split and JSONL files."""

from domainrag.instruct.records import Example, read_jsonl, validation_path, write_jsonl

__all__ = ["Example", "read_jsonl", "validation_path", "write_jsonl"]
