"""The continuous-batching engine through the command line on the real default model:
batching and chunking do not change greedy output, and the concurrency benchmark runs."""

import json
import re

import pytest

from conftest import MODEL, chatml, run_kvinfer

PROMPTS = [
    chatml("Name three colors."),
    "The old lighthouse keeper",
    chatml("What is the capital of France?"),
    "def square(x):\n",
    chatml("Give me a short tip for sleeping well."),
    "In 1969, the first humans",
]


def run_prompts(tmp_path, *flags, stderr=None):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    result = run_kvinfer("run", "-m", MODEL, "--prompts", path, "--json", "--temp", "0", "-n", "32", *flags)
    assert result.returncode == 0, result.stderr.decode()
    if stderr is not None:
        stderr.append(result.stderr.decode())
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_parallel_batches_give_same_texts(tmp_path):
    one_at_a_time = run_prompts(tmp_path, "--parallel", "1")
    batched = run_prompts(tmp_path, "--parallel", "6")
    assert [r["index"] for r in batched] == list(range(len(PROMPTS)))
    assert [r["text"] for r in batched] == [r["text"] for r in one_at_a_time]
    assert "Paris" in batched[2]["text"]


def test_chunked_prefill_gives_same_texts(tmp_path):
    whole = run_prompts(tmp_path, "--parallel", "3")
    chunked = run_prompts(tmp_path, "--parallel", "3", "--max-batch-tokens", "7")
    assert [r["text"] for r in chunked] == [r["text"] for r in whole]


def test_tiny_pool_preempts_without_changing_output(tmp_path):
    roomy = run_prompts(tmp_path, "--parallel", "6")
    cramped = tmp_path / "cramped"
    cramped.mkdir()
    messages = []
    tight = run_prompts(cramped, "--parallel", "6", "--kv-tokens", "160", stderr=messages)
    assert [r["text"] for r in tight] == [r["text"] for r in roomy]
    preemptions = int(re.search(r"preemptions: (\d+)", messages[0]).group(1))
    assert preemptions > 0


def test_concurrency_bench_reports_each_level():
    result = run_kvinfer(
        "bench", "-m", MODEL, "--concurrency", "1,3", "--prompt-tokens", "16", "--gen-tokens", "4", "--json"
    )
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert [r["concurrency"] for r in report["results"]] == [1, 3]
    for row in report["results"]:
        assert row["tokens_per_second"] > 0
        assert row["ttft_ms_p50"] > 0
        assert row["itl_ms_p95"] >= row["itl_ms_p50"]


@pytest.mark.parametrize("value", ["0", "1,,4", "a", "-3"])
def test_invalid_concurrency_is_an_error(value):
    result = run_kvinfer("bench", "-m", MODEL, "--concurrency", value)
    assert result.returncode != 0
    assert "--concurrency" in result.stderr.decode()
