"""Deterministic train/validation split by group (an article, a dialogue), so the two never share one."""

from __future__ import annotations

import hashlib

from domainrag.instruct.records import Example


def _bucket(group: str, seed: int) -> float:
    digest = hashlib.sha1(f"{seed}\x00{group}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(examples: list[Example], val_ratio: float = 0.1, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, validation): each group goes wholly to one side, chosen by a hash of the group and seed."""
    if not 0.0 <= val_ratio < 1.0:
        raise ValueError("val_ratio must be in [0, 1)")
    train: list[Example] = []
    validation: list[Example] = []
    for example in examples:
        (validation if _bucket(example.group_key, seed) < val_ratio else train).append(example)
    if not validation and len(train) > 1 and val_ratio > 0:  # tiny inputs: still hold one group out
        held_out = train[-1].group_key
        validation = [e for e in train if e.group_key == held_out]
        train = [e for e in train if e.group_key != held_out]
    return train, validation
