"""Instruction-data builders on small real samples of each pack's corpus: schema, no duplicates, disjoint split."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from domainrag.errors import ConfigError
from domainrag.instruct.arithmetic import extract_answer, generate, is_correct
from domainrag.instruct.build import build_dataset
from domainrag.instruct.clean import FilterSettings, clean, normalize
from domainrag.instruct.records import FIELDS, Example, read_jsonl
from domainrag.packs import load_pack

DOMAINS = Path(__file__).resolve().parents[1] / "domains"


def _sample(tmp: Path, pack: str, files: dict[str, int | None]) -> Path:
    """Copy corpus files (JSONL/CSV cut to their first N lines) into a small sample corpus."""
    root = tmp / f"{pack}-sample"
    for relative, lines in files.items():
        source = DOMAINS / pack / "corpus" / relative
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if lines is None:
            shutil.copy(source, target)
        else:
            target.write_text("".join(source.read_text(encoding="utf-8").splitlines(keepends=True)[:lines]), encoding="utf-8")
    return root


SAMPLES = {
    "law": {"民法商法/个人独资企业法(1999-08-30).md": None, "民法商法/商业银行法(2015-08-29).md": None},
    "finance": {"laws/商业银行法(2015-08-29).md": None, "fineval/index_extraction.csv": 15,
                "fineval/numerical_calculation.csv": 20},
    "medical": {"laws/医师法(2021-08-20).md": None, "medicalgpt/medical_qa.jsonl": 40,
                "medicalgpt/medical_dialogues.jsonl": 80},
    "education": {"laws/教育法(2021-04-29).md": None, "gaokao/gaokao_questions.jsonl": 80},
    "math": {"gsm8k/gsm8k_train_sample.jsonl": 60, "gaokao/gaokao_math.jsonl": 30},
}
EXPECTED_TASKS = {
    "law": {"recite", "locate", "complete", "extract"},
    "finance": {"extract", "recite", "fineval-extract", "fineval-calc"},
    "medical": {"qa", "dialogue", "recite"},
    "education": {"gaokao", "recite", "locate"},
    "math": {"arithmetic-integer", "arithmetic-decimal", "arithmetic-fraction", "arithmetic-mixed", "gsm8k", "gaokao-math"},
}


@pytest.mark.parametrize("pack_name", sorted(SAMPLES))
def test_builder_on_sample_corpus(pack_name: str, tmp_path: Path) -> None:
    corpus = _sample(tmp_path, pack_name, SAMPLES[pack_name])
    result = build_dataset(load_pack(pack_name), source=corpus, out=tmp_path / "data" / f"{pack_name}.jsonl")
    assert EXPECTED_TASKS[pack_name] <= set(result.by_task), result.by_task
    for path in (result.train_path, result.validation_path):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert tuple(record) == FIELDS
            assert record["instruction"].strip() and record["output"].strip() and record["source"]
    train, validation = read_jsonl(result.train_path), read_jsonl(result.validation_path)
    assert (len(train), len(validation)) == (result.train, result.validation)
    assert result.train + result.validation <= result.cleaning.kept
    assert validation and len(validation) < len(train)
    prompts = [normalize(e.prompt) for e in train + validation]
    assert len(prompts) == len(set(prompts)), "duplicate prompts"
    # one article / dialogue / problem never straddles the split
    assert not {e.source for e in train} & {e.source for e in validation}


def test_math_builder_answers_are_exact(tmp_path: Path) -> None:
    corpus = _sample(tmp_path, "math", {"gsm8k/gsm8k_train_sample.jsonl": 5})
    result = build_dataset(load_pack("math"), source=corpus, out=tmp_path / "math.jsonl")
    generated = [e for e in read_jsonl(result.train_path) if e.source.startswith("generated:")]
    assert len(generated) > 1000
    for problem in generate(400, seed=7):
        assert is_correct(problem.solution, problem.value)
    fractions = [p for p in generate(200, seed=3, kinds=("fraction",))]
    assert any(p.value.denominator > 1 for p in fractions)
    assert all(p.solution.endswith(f"答案：{p.value.numerator}" if p.value.denominator == 1
                                   else f"答案：{p.value.numerator}/{p.value.denominator}") for p in fractions)
    assert extract_answer("so 3/4 + 1/4 = 1\n答案：1") == 1
    assert extract_answer("The result is \\frac{7}{12}.") == Fraction(7, 12)
    assert extract_answer("118 + 109 = 227, which is the sum of 118 and 109.") == 227
    assert extract_answer("20 × 19 = 390.\n\nThe answer is: 380.") == 380
    assert extract_answer("no number here") is None


def test_generated_problems_exclude_given_expressions() -> None:
    train = {p.expression for p in generate(300, seed=1)}
    held_out = list(generate(200, seed=2, exclude=train))
    assert len(held_out) == 200 and not train & {p.expression for p in held_out}


def test_clean_removes_exact_and_near_duplicates_and_filters() -> None:
    article = ("商业银行应当按照中国人民银行规定的存款利率的上下限，确定存款利率，并予以公告。商业银行办理个人储蓄存款业务，"
               "应当遵循存款自愿、取款自由、存款有息、为存款人保密的原则。对个人储蓄存款，商业银行有权拒绝任何单位或者个人查询、"
               "冻结、扣划，但法律另有规定的除外。")
    examples = [
        Example("商业银行法第三十一条的内容是什么？", article, source="a"),
        Example("商业银行法第三十一条的内容是什么？ ", article, source="b"),            # exact (whitespace)
        Example("请问商业银行法第三十一条的内容是什么？", article, source="c"),         # near duplicate
        Example("个人独资企业法第二条的内容是什么？", "本法所称个人独资企业，是指依照本法在中国境内设立的企业。", source="d"),
        Example("短", "太短的指令", source="e"),                                               # instruction too short
        Example("这一条的网址是什么？", "见 https://example.com/law", source="f"),             # noisy output
    ]
    kept, report = clean(examples, FilterSettings(min_instruction=4))
    assert [e.source for e in kept] == ["a", "d"]
    assert report.dropped == {"exact duplicate": 1, "near duplicate": 1, "instruction length": 1, "noisy output": 1}


def test_builder_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        build_dataset(load_pack("law"), source=tmp_path / "missing", out=tmp_path / "x.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="nothing to turn into instruction data"):
        build_dataset(load_pack("law"), source=tmp_path / "empty", out=tmp_path / "x.jsonl")
    (tmp_path / "x.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="no examples"):
        read_jsonl(tmp_path / "x.jsonl")


class _Teacher:
    """A local OpenAI-compatible chat endpoint that writes one grounded Q&A pair per passage."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                passage = body["messages"][0]["content"].split("资料：\n", 1)[1]
                line = next(l for l in passage.splitlines() if len(l) > 20)
                pairs = [{"question": f"资料里“{line[:12]}”这句话后面说了什么？", "answer": line[12:80]}]
                content = "好的：\n```json\n" + json.dumps(pairs, ensure_ascii=False) + "\n```"
                payload = {"id": "t", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": content}}]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_teacher_self_instruct_adds_filtered_pairs(tmp_path: Path) -> None:
    from domainrag.errors import ModelError
    from domainrag.instruct.teacher import TeacherSettings, parse_pairs

    teacher = _Teacher()
    corpus = _sample(tmp_path, "law", {"民法商法/个人独资企业法(1999-08-30).md": None})
    settings = TeacherSettings(base_url=teacher.url, model="teacher-7b", max_passages=4)
    result = build_dataset(load_pack("law"), source=corpus, out=tmp_path / "law.jsonl", teacher=settings)
    teacher.server.shutdown()
    assert len(teacher.requests) == 4 and teacher.requests[0]["model"] == "teacher-7b"
    assert 1 <= result.by_task.get("self-instruct", 0) <= 4
    written = read_jsonl(result.train_path) + read_jsonl(result.validation_path)
    assert any(e.source.startswith("teacher:") for e in written)
    assert parse_pairs('[{"question": "q", "answer": "a"}, {"question": ""}]') == [("q", "a")]
    assert parse_pairs("no json here") == []
    dead = TeacherSettings(base_url="http://127.0.0.1:9/v1", model="m", timeout=2.0)
    with pytest.raises(ModelError, match="teacher"):
        build_dataset(load_pack("law"), source=corpus, out=tmp_path / "law2.jsonl", teacher=dead)
