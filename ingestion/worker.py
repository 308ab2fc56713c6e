"""Parse files in a worker process under a per-file time and memory limit.

One pathological file (a parser that loops, a document that expands to gigabytes) is skipped with the limit
it broke while the rest of the batch goes on. The worker is reused from file to file and restarted only
after it is killed; it reads requests on stdin and answers on its own copy of stdout (pickles), while
anything the parsers print goes to stderr.

Run as ``python -m domainrag.ingestion.worker MEMORY_BYTES``.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from domainrag.ingestion.documents import Chunk, LoadError
from domainrag.ingestion.loaders import MAX_FILE_BYTES, load_file
from domainrag.ingestion.splitters import split_document

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_BYTES = 2 * 2**30


@dataclass(frozen=True)
class ParseRequest:
    """One file to load and split, with the splitter settings."""

    path: str
    max_file_bytes: int = MAX_FILE_BYTES
    chunk_size: int = 600
    chunk_overlap: int = 80
    splitter: str = "auto"


@dataclass
class Parsed:
    """A file's chunks and loader warnings, or ``chunks is None`` and the reason it was skipped."""

    chunks: list[Chunk] | None
    warnings: list[str] = field(default_factory=list)
    reason: str = ""


def memory_reason(memory_bytes: int) -> str:
    return (f"parsing needed more than the {memory_bytes // 2**20} MiB per-file memory limit; "
            "raise it with --file-memory-mb")


def parse(request: ParseRequest, memory_bytes: int = 0) -> Parsed:
    """Load and split one file in this process; never raises for a bad file."""
    try:
        document = load_file(Path(request.path), request.max_file_bytes)
        chunks = split_document(document, request.chunk_size, request.chunk_overlap, request.splitter)
    except LoadError as exc:
        return Parsed(None, reason=str(exc))
    except MemoryError:
        return Parsed(None, reason=memory_reason(memory_bytes))
    except Exception as exc:  # a parser bug on one odd file must not stop the batch
        return Parsed(None, reason=f"could not parse ({type(exc).__name__}: {str(exc)[:100]})")
    if not chunks:
        return Parsed(None, document.warnings, "no text found in the file")
    return Parsed(chunks, document.warnings)


class FileParser:
    """A reusable worker process that parses one file at a time under ``timeout_s`` and ``memory_bytes``
    (0 turns a limit off). Use as a context manager so the worker is always stopped."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self.process: subprocess.Popen[bytes] | None = None
        self.deadline: float | None = None
        self.busy = False  # a file was sent and its result not read yet

    def __enter__(self) -> FileParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def parse_all(self, requests: list[ParseRequest]) -> Iterator[Parsed]:
        """Results in request order; the next file is sent before a result is handed back, so the worker
        parses it while the caller embeds the previous one."""
        if requests:
            self.submit(requests[0])
        for position in range(len(requests)):
            parsed = self.result()
            if position + 1 < len(requests):
                self.submit(requests[position + 1])
            yield parsed

    def submit(self, request: ParseRequest) -> None:
        """Send one file to the (started or restarted) worker; its time limit starts now."""
        for attempt in (1, 2):
            process = self._worker()
            try:
                assert process.stdin is not None
                process.stdin.write(pickle.dumps(request))
                process.stdin.flush()
                break
            except (BrokenPipeError, OSError):
                self._stop()
                if attempt == 2:
                    raise
        self.deadline = time.monotonic() + self.timeout_s if self.timeout_s > 0 else None
        self.busy = True

    def result(self) -> Parsed:
        """The outcome of the file last submitted; a worker over its limits is killed and replaced later."""
        process = self.process
        assert process is not None and process.stdout is not None
        self.busy = False
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if not ready:
            self._stop()
            return Parsed(None, reason=f"parsing took longer than the {self.timeout_s:g} s per-file limit; "
                                       "raise it with --file-timeout")
        try:
            return pickle.load(process.stdout)
        except (EOFError, pickle.UnpicklingError):
            code = self._stop()
            killed = code < 0 and -code == signal.SIGKILL
            return Parsed(None, reason=memory_reason(self.memory_bytes) if killed and self.memory_bytes
                          else f"the parser process stopped (exit status {code}) on this file")

    def close(self) -> None:
        """Stop the worker: an idle one exits when its input closes, a busy one is killed."""
        if self.busy:
            self._stop()
            return
        process, self.process = self.process, None
        if process is None:
            return
        try:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()

    def _worker(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "domainrag.ingestion.worker", str(self.memory_bytes)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self.process

    def _stop(self) -> int:
        """Kill the worker; its exit status."""
        process, self.process, self.busy = self.process, None, False
        if process is None:
            return 0
        process.kill()
        code = process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        return code


def _limit_memory(memory_bytes: int) -> None:
    if memory_bytes <= 0:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):
        pass  # platforms without RLIMIT_AS keep the time limit only


def serve(requests: BinaryIO, answers: BinaryIO, memory_bytes: int) -> None:
    """Answer parse requests until the input closes."""
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = pickle.dumps(parse(request, memory_bytes))
        except MemoryError:
            answer = pickle.dumps(Parsed(None, reason=memory_reason(memory_bytes)))
        answers.write(answer)
        answers.flush()


def main() -> None:
    memory_bytes = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    _limit_memory(memory_bytes)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent stops us
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the answers
    serve(sys.stdin.buffer, answers, memory_bytes)


if __name__ == "__main__":
    from domainrag.ingestion.worker import main as module_main  # answers pickle under the module's name

    module_main()
