"""The answer path as a LangChain (LCEL) pipeline of Runnables.

    validate → rewrite (history) → cache lookup → retrieve (hybrid + relevance floor)
             → lead naming the best passage (shown at once) → prompt → generate (streamed, each sentence checked
               against the passages; the passage's clause when nothing holds up) → cite (valid [n] only) → cache

Each step passes one ``Turn`` (the per-call state) along, so one chain serves many threads at once. Streamed
output chunks are ``AddableDict``s: ``{"answer": delta}`` while generating, then ``{"result": Answer}``;
``invoke`` adds them up into ``{"answer": full_text, "result": Answer}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from domainrag.answer import Answer, AnswerStream, Citation, QuestionError
from domainrag.chain.citations import CitationFilter, cited_numbers
from domainrag.chain.grounding import (SUPPORT_THRESHOLD, Reference, SentenceGate, lead_language, pair_references,
                                       quoted_clauses, quotes_runner_up, reference_for)
from domainrag.chain.rewrite import standalone_question
from domainrag.errors import ConfigError
from domainrag.llm.base import GenerationSettings, Generator, Guidance
from domainrag.packs import Pack
from domainrag.prompts import PromptTemplates, fit_passages, format_context, to_chat_messages
from domainrag.relevance import above_floor
from domainrag.retrieve import Hit

log = logging.getLogger("domainrag")


ANSWER_MODES = ("grounded", "extractive")


@dataclass(frozen=True)
class AnswerSettings:
    """A pack's ``[answer]`` table.

    no_context: "refuse" (say nothing relevant was found) or "generate" (let the model answer without sources).
    rewrite: "rules" (deterministic follow-up rewriting) or "llm" (ask the generator, rules as the fallback).
    max_question_chars: longer questions are cut to this length, with a warning.
    disclaimer: give the pack's disclaimer with every answer (``Answer.disclaimer``).
    mode: "grounded" (the model writes on from the lead naming the best passage; each sentence is shown only when
      the passages support it, see chain/grounding.py; the passage's clause when none does) or "extractive"
      (the clause, without calling the model).
    support_threshold: share of a generated sentence's character bigrams that must occur in the passages.
    clause_chars: the longest clause an extractive answer quotes (a longer passage is cut to its best sentences).
    also_quote_below, also_quote_ratio: an extractive answer quotes the second passage too (另可参照…[2]) when the
      best passage's score is under ``also_quote_below`` and the second's at least ``also_quote_ratio`` times it
      (``grounding.quotes_runner_up``). Only when a reranker scored the hits (probabilities; the chain's
      ``reranked``); 0: never.
    """

    no_context: str = "refuse"
    rewrite: str = "rules"
    max_question_chars: int = 500
    disclaimer: bool = True
    mode: str = "grounded"
    support_threshold: float = SUPPORT_THRESHOLD
    clause_chars: int = 160
    also_quote_below: float = 0.0
    also_quote_ratio: float = 0.5

    @classmethod
    def from_pack(cls, pack: Any) -> "AnswerSettings":
        raw = pack.section("answer")
        unknown = sorted(set(raw) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"{pack.path}/pack.toml: unknown [answer] keys {unknown}")
        settings = cls(**raw)
        if settings.no_context not in ("refuse", "generate") or settings.rewrite not in ("rules", "llm") \
                or settings.mode not in ANSWER_MODES:
            raise ConfigError(f"{pack.path}/pack.toml: [answer] no_context must be refuse|generate, rewrite "
                              "rules|llm and mode grounded|extractive")
        if not all(isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
                   for value in (settings.also_quote_below, settings.also_quote_ratio)):
            raise ConfigError(f"{pack.path}/pack.toml: [answer] also_quote_below and also_quote_ratio must be "
                              "numbers from 0 to 1 (0 turns quoting a second passage off)")
        return settings


@dataclass
class Turn:
    """The state of one ask/stream call as it moves through the chain."""

    question: str
    history: list[Any] = field(default_factory=list)
    k: int | None = None
    adapter: str | None = None
    use_cache: bool = True
    max_new_tokens: int | None = None
    cancel: threading.Event | None = None  # set by the caller (a server whose client left): generation stops
    standalone: str = ""
    kb_version: str | None = None  # read at the cache lookup; the answer is cached under it
    passages: list[tuple[int, Hit, str]] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    answer: Answer | None = None
    warnings: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def _citation(n: int, hit: Hit) -> Citation:
    return Citation(n=n, chunk_id=hit.chunk_id, source=hit.source, title=hit.title, section=hit.section, text=hit.text)


class AnswerChain:
    """Answers questions from a pack's settings, a search, a generator and (optionally) an answer cache.

    ``search(question, k)`` returns the top ``k`` ``Hit``s (``DomainRAG.search`` or ``Retriever.search``).
    ``generator`` and ``cache`` are the objects themselves or zero-argument callables that return them, so a
    local model (or the cache's embedding index) is built only when an answer first needs it; ``cache`` is an
    ``AnswerCache`` (anything with ``version``/``lookup``/``store``) or None. ``mode`` overrides ``[answer] mode``.
    ``off_subject(question)``, called after the search, says the question is off the knowledge base's subject
    (``DomainRAG.off_subject``), so that no passage is given to the model; None: never. ``reranked()`` says the
    search's scores are a reranker's probabilities, which ``[answer] also_quote_below`` compares; None: they are not,
    and no second passage is quoted.
    """

    def __init__(self, pack: Pack, search: Callable[[str, int], list[Hit]],
                 generator: Generator | Callable[[], Generator], cache: Any = None, mode: str | None = None,
                 off_subject: Callable[[str], bool] | None = None, reranked: Callable[[], bool] | None = None) -> None:
        from dataclasses import replace

        self.search = search
        self._generator = generator if callable(generator) else (lambda: generator)
        self._cache = cache if callable(cache) else (lambda: cache)
        self.templates = PromptTemplates.from_pack(pack, validate=False)  # checked with the runnables
        self.settings = AnswerSettings.from_pack(pack)
        if mode is not None:
            if mode not in ANSWER_MODES:
                raise ConfigError(f"answer mode {mode!r}: use one of {', '.join(ANSWER_MODES)}")
            self.settings = replace(self.settings, mode=mode)
        self.generation = GenerationSettings.from_pack(pack)
        self.k = pack.retrieval.k
        self.score_threshold = pack.retrieval.score_threshold
        self.off_subject = off_subject or (lambda question: False)
        self.reranked = reranked or (lambda: False)
        self.language = pack.language
        self.disclaimer = pack.disclaimer
        self._warming: threading.Thread | None = None
        self._run_name = f"domainrag:{pack.name}"
        self._runnables: tuple[Any, Any, Any] | None = None
        self._runnables_lock = threading.Lock()

    def _build_runnables(self) -> tuple[Any, Any, Any]:
        """(prepare, runnable, prompt), built once: LangChain loads with the first answer that needs them, so a cache hit
        served by ``cached`` never imports it."""
        with self._runnables_lock:
            if self._runnables is None:
                from langchain_core.runnables import RunnableGenerator, RunnableLambda

                prepare = (RunnableLambda(self.validate, name="validate")
                           | RunnableLambda(self.rewrite, name="rewrite")
                           | RunnableLambda(self.lookup_cache, name="cache_lookup")
                           | RunnableLambda(self.retrieve, name="retrieve"))
                runnable = (prepare | RunnableGenerator(self.generate, name="generate_and_cite")).with_config(
                    run_name=self._run_name)
                self._runnables = (prepare, runnable, self.templates.chat_template())
            return self._runnables

    @property
    def prepare(self) -> Any:
        """validate → rewrite → cache lookup → retrieve, as a LangChain Runnable that returns the ``Turn``."""
        return self._build_runnables()[0]

    @property
    def runnable(self) -> Any:
        """The whole answer path as a LangChain Runnable (streams ``{"answer": delta}``, then ``{"result"}``)."""
        return self._build_runnables()[1]

    @property
    def prompt(self) -> Any:
        """The pack's prompt as a LangChain ``ChatPromptTemplate`` (built with the runnables)."""
        return self._build_runnables()[2]

    @property
    def generator(self) -> Generator:
        return self._generator()

    @property
    def cache(self) -> Any:
        """The answer cache consulted between rewriting and retrieval (None: answers are not cached)."""
        return self._cache()

    # ---- steps -----------------------------------------------------------------
    def validate(self, inputs: Turn | dict[str, Any] | str) -> Turn:
        """Accepts a question string, ``{"question", "history", "k", "adapter", "use_cache"}`` or a Turn."""
        if isinstance(inputs, Turn):
            turn = inputs
        elif isinstance(inputs, str):
            turn = Turn(question=inputs)
        else:
            known = {f.name for f in fields(Turn)} & {"question", "history", "k", "adapter", "use_cache", "max_new_tokens", "cancel"}
            turn = Turn(**{key: value for key, value in inputs.items() if key in known and value is not None})
        if not isinstance(turn.question, str) or not turn.question.strip():
            raise QuestionError("empty question: ask something, e.g. domainrag ask \"盗窃罪怎么处罚？\" --pack law")
        turn.question = turn.question.strip()
        limit = self.settings.max_question_chars
        if len(turn.question) > limit:
            message = (f"question is {len(turn.question)} characters long; only the first {limit} are used "
                       "([answer] max_question_chars in pack.toml)")
            log.warning("warning: %s", message)
            turn.warnings.append(message)
            turn.question = turn.question[:limit]
        turn.history = list(turn.history or [])
        return turn

    def rewrite(self, turn: Turn) -> Turn:
        """Make a follow-up standalone using the conversation history."""
        turn.standalone = standalone_question(turn.question, turn.history) if turn.history else turn.question
        if turn.history and self.settings.rewrite == "llm":
            turn.standalone = self._llm_rewrite(turn) or turn.standalone
        return turn

    def _llm_rewrite(self, turn: Turn) -> str | None:
        from domainrag.chain.rewrite import user_questions
        from domainrag.errors import DomainRAGError

        earlier = "\n".join(f"- {q}" for q in user_questions(turn.history)[-4:])
        instruction = ("Rewrite the last question so that it can be understood without the conversation. "
                       "Keep its language. Reply with the question only.\n\n"
                       f"Earlier questions:\n{earlier}\n\nLast question: {turn.question}")
        try:
            text = self.generator.generate([{"role": "user", "content": instruction}], adapter="none", max_new_tokens=96)
        except DomainRAGError as exc:
            log.warning("warning: LLM rewrite failed (%s); using the rule-based rewrite", exc)
            return None
        text = text.strip().splitlines()[0].strip() if text.strip() else ""
        return text if 0 < len(text) <= 3 * max(len(turn.standalone), 20) else None

    def lookup_cache(self, turn: Turn) -> Turn:
        """Semantic cache lookup by the standalone question."""
        cache = self.cache if turn.use_cache else None
        if cache is None:
            return turn
        turn.kb_version = cache.version()
        found = cache.lookup(turn.standalone, variant=self._cache_variant(turn), kb_version=turn.kb_version)
        if found is not None:
            data, similarity = found
            turn.answer = Answer.from_dict(data, cache_hit=True, similarity=similarity, question=turn.question,
                                           standalone_question=turn.standalone, warnings=turn.warnings,
                                           sources=[Citation(**c) for c in data.get("sources", [])])
        return turn

    def _cache_variant(self, turn: Turn) -> str:
        """What shapes an answer besides the question and the KB; cached answers are kept apart by it. An extractive
        answer quotes its passage, so no model shapes it (and a cache hit never builds one)."""
        if self.settings.mode == "extractive":
            return f"extractive|k={turn.k or self.k}"
        generator = self.generator
        tokens = turn.max_new_tokens or getattr(generator, "settings", self.generation).max_new_tokens
        return (f"{generator.model_name}|adapter={generator.adapter_label(turn.adapter)}"
                f"|k={turn.k or self.k}|max_new_tokens={tokens}")

    def retrieve(self, turn: Turn) -> Turn:
        """Hybrid search, then keep only the passages above the pack's relevance floor (none when the question is
        off the knowledge base's subject)."""
        if turn.answer is not None:
            return turn
        started = time.perf_counter()
        hits = self.search(turn.standalone, turn.k or self.k)
        if hits and self.off_subject(turn.standalone):
            hits = []
        kept = above_floor(turn.standalone, hits, self.score_threshold)
        turn.passages = [(n, hit, hit.text) for n, hit in enumerate(kept, start=1)]
        turn.timings["retrieve_ms"] = (time.perf_counter() - started) * 1000
        if turn.passages and self.settings.mode == "grounded":
            self._warm_generator()
        return turn

    def _warm_generator(self) -> None:
        """Start loading a local model's weights in the background (once): the lead and the sources are shown
        meanwhile. Only on a cache miss that will generate, so a cache hit never pays for the model."""
        load = getattr(self.generator, "load", None)
        if load is not None and self._warming is None:
            from domainrag.background import in_background

            self._warming = in_background(load, "load-model")

    def build_prompt(self, turn: Turn) -> Turn:
        """The pack's prompt with the numbered passages, cut to the context budget (``turn.messages``)."""
        generator = self.generator
        budget = getattr(generator, "settings", self.generation).max_context_tokens
        style = self.templates.header
        turn.passages = fit_passages(turn.passages, budget, generator.count_tokens, generator.truncate, style)
        context = format_context(turn.passages, style) if turn.passages else "（无）" if self.language.startswith("zh") else "(none)"
        value = self.prompt.invoke({"system": self.templates.system, "context": context, "question": turn.standalone})
        turn.messages = to_chat_messages(value)
        return turn

    def generate(self, turns: Iterator[Turn]) -> Iterator[dict[str, Any]]:
        """Stream the reply, cleaning citation markers on the fly; finish with the ``Answer``."""
        from langchain_core.runnables.utils import AddableDict

        for turn in turns:
            if turn.answer is None and not turn.passages and self.settings.no_context == "refuse":
                turn.answer = self._no_context_answer(turn)
            if turn.answer is not None:  # cache hit, or nothing relevant found
                self._time_ready_answer(turn)
                yield AddableDict(answer=turn.answer.answer)
                yield AddableDict(result=turn.answer)
                continue
            yield from self._generate(turn, AddableDict)

    def _generate(self, turn: Turn, chunk: Any) -> Iterator[dict[str, Any]]:
        """The lead naming the best passage, then the model's sentences that hold up against the passages, or
        (when none does) that passage's clause answering the question."""
        generator = self.generator
        by_number = {n: hit for n, hit, _ in turn.passages}
        if not turn.passages:  # no_context = "generate": the model answers without sources
            self.build_prompt(turn)
            parts, mode, gen_ms, first = (yield from self._free_generation(turn, chunk))
        else:
            parts, mode, gen_ms, first = (yield from self._grounded_generation(turn, chunk, by_number))
        text = "".join(parts)
        answer = Answer(
            answer=text, citations=[_citation(n, by_number[n]) for n in cited_numbers(text) if n in by_number],
            cache_hit=False, model=generator.model_name, adapter=generator.adapter_label(turn.adapter),
            timings=self._timings(turn, first=first if first is not None else turn.elapsed_ms(), gen=gen_ms),
            question=turn.question, standalone_question=turn.standalone,
            sources=[_citation(n, hit) for n, hit, _ in turn.passages], no_context=not turn.passages,
            warnings=turn.warnings, mode=mode, disclaimer=self._disclaimer())
        if not turn.cancelled:  # a cut-off answer is not kept
            self._store_cache(turn, answer)
        yield chunk(result=answer)

    def _grounded_generation(self, turn: Turn, chunk: Any, by_number: dict[int, Hit]) -> Iterator[dict[str, Any]]:
        n, top, _ = turn.passages[0]
        language = lead_language(turn.standalone, self.language)
        reference, runner_up = self._references(turn)
        lead = reference.lead(language)
        first = turn.elapsed_ms()
        yield chunk(answer=lead)
        parts, mode, gen_ms = [lead], "extractive", 0.0
        if self.settings.mode == "grounded":
            started = time.perf_counter()
            self.build_prompt(turn)  # after the lead is out: counting tokens needs the model's tokenizer
            gate = SentenceGate([(hit.title, str(hit.metadata.get("article") or ""), hit.text)
                                 for hit in by_number.values()], self.settings.support_threshold)
            guidance = Guidance(reply_prefix=lead, citations=frozenset(by_number))
            deltas = self.generator.stream(turn.messages, adapter=turn.adapter, max_new_tokens=turn.max_new_tokens,
                                           guidance=guidance)
            cleaner = CitationFilter(set(by_number))
            try:
                for delta in _chain_iter((cleaner.feed(d) for d in deltas), cleaner.flush):
                    if turn.cancelled:
                        break
                    released = gate.feed(delta)
                    if released:
                        parts.append(released)
                        yield chunk(answer=released)
                    if gate.closed:
                        break
                else:
                    released = gate.finish()
                    if released:
                        parts.append(released)
                        yield chunk(answer=released)
            finally:
                deltas.close()  # stops a local generation early when a sentence failed the check
            gen_ms = (time.perf_counter() - started) * 1000
            if gate.wrote_something:
                mode = "generated"
        if mode == "extractive":
            also = (runner_up[0], runner_up[1].text) if runner_up is not None else None
            clause = quoted_clauses(turn.standalone, top.text, language, self.settings.clause_chars, also)
            parts.append(clause)
            yield chunk(answer=clause)
        return parts, mode, gen_ms, first

    def _references(self, turn: Turn) -> tuple[Reference, tuple[Reference, Hit] | None]:
        """How the answer names its best passage, and the second passage it quotes too when the reranker cannot tell the
        two apart (``quotes_runner_up``): its reference and hit, else None. Two versions of one law name their dates."""
        (n, top, _), settings = turn.passages[0], self.settings
        if not (quotes_runner_up([hit.score for _, hit, _ in turn.passages[:2]], settings.also_quote_below,
                                 settings.also_quote_ratio) and self.reranked()):
            return reference_for(n, top.title, top.metadata), None
        m, second, _ = turn.passages[1]
        first, second_reference = pair_references((n, top), (m, second))
        return first, (second_reference, second)

    def _free_generation(self, turn: Turn, chunk: Any) -> Iterator[dict[str, Any]]:
        cleaner = CitationFilter(set())
        parts: list[str] = []
        first: float | None = None
        started = time.perf_counter()
        deltas = self.generator.stream(turn.messages, adapter=turn.adapter, max_new_tokens=turn.max_new_tokens)
        for delta in _chain_iter((cleaner.feed(d) for d in deltas), cleaner.flush):
            if turn.cancelled:
                break
            if delta:
                first = turn.elapsed_ms() if first is None else first
                parts.append(delta)
                yield chunk(answer=delta)
        return parts, "generated", (time.perf_counter() - started) * 1000, first

    def _disclaimer(self) -> str:
        return self.disclaimer if self.settings.disclaimer else ""

    def _no_context_answer(self, turn: Turn) -> Answer:
        generator = self.generator
        return Answer(answer=self.templates.no_context, model=generator.model_name,
                      adapter=generator.adapter_label(turn.adapter), question=turn.question,
                      standalone_question=turn.standalone, no_context=True, warnings=turn.warnings, mode="refused")

    def _store_cache(self, turn: Turn, answer: Answer) -> None:
        cache = self.cache if turn.use_cache else None
        if cache is not None:
            cache.store(turn.standalone, answer, variant=self._cache_variant(turn), kb_version=turn.kb_version)

    def _time_ready_answer(self, turn: Turn) -> None:
        """Timings of an answer that needed no generation (a cache hit, a refusal): it is all out at once."""
        turn.answer.timings = {**turn.answer.timings, **self._timings(turn, first=turn.elapsed_ms(), gen=0.0)}

    def _timings(self, turn: Turn, first: float, gen: float) -> dict[str, float]:
        return {"retrieve_ms": turn.timings.get("retrieve_ms", 0.0), "first_token_ms": first,
                "generate_ms": gen, "total_ms": turn.elapsed_ms()}

    # ---- entry points ------------------------------------------------------------
    def stream(self, question: str, history: list[Any] | None = None, **options: Any) -> AnswerStream:
        """Text deltas as they are generated; ``.answer`` afterwards."""
        result: list[Answer] = []
        turn = self.validate({"question": question, "history": history, **options})  # fail fast, before iterating

        def deltas() -> Iterator[str]:
            for piece in self.runnable.stream(turn):
                if "answer" in piece and piece["answer"]:
                    yield piece["answer"]
                if "result" in piece:
                    result.append(piece["result"])

        return AnswerStream(deltas(), lambda: result[-1])

    def ask(self, question: str, history: list[Any] | None = None, **options: Any) -> Answer:
        stream = self.stream(question, history, **options)
        return stream.answer

    def cached(self, question: str, history: list[Any] | None = None, **options: Any) -> Answer | None:
        """The cached answer to ``question`` (the same steps as the chain up to its cache lookup), else None;
        it neither retrieves nor generates. None too when ``use_cache`` is off, or when a follow-up would need the
        model to rewrite it."""
        turn = self.validate({"question": question, "history": history, **options})
        if turn.history and self.settings.rewrite == "llm":
            return None
        turn = self.lookup_cache(self.rewrite(turn))  # no lookup (None) with use_cache off or no cache
        if turn.answer is not None:
            self._time_ready_answer(turn)
        return turn.answer


def _chain_iter(deltas: Iterator[str], flush: Callable[[], str]) -> Iterator[str]:
    """``deltas`` then ``flush()`` (the citation filter's held-back tail)."""
    yield from deltas
    yield flush()
