"""The paged KV cache and the prefix cache on the real default model, through
`kvinfer run --prompts FILE --json`: greedy output must not depend on whether a prompt's
prefix came from the cache, and every block must be free once all prompts finish."""

import json
import re

import numpy as np
import pytest

from conftest import GOLDEN, MODEL, chatml, run_kvinfer

SYSTEM = (
    "<|im_start|>system\nYou are a careful assistant. You answer questions about geography, history and science "
    "in two or three plain sentences, and you say so when you are not sure.<|im_end|>\n"
)


def run_prompts(tmp_path, prompts, *flags, n_predict=24):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in prompts))
    result = run_kvinfer("run", "-m", MODEL, "--prompts", path, "--json", "--temp", "0", "-n", n_predict, *flags)
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [line["index"] for line in lines] == list(range(len(prompts)))
    return lines, result.stderr.decode()


def prompt_ids(text):
    result = run_kvinfer("tokenize", "-m", MODEL, input_bytes=text.encode())
    assert result.returncode == 0, result.stderr.decode()
    return [int(t) for t in result.stdout.split()]


def prompt_tokens(text):
    return len(prompt_ids(text))


def common_prefix_length(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def assert_cache_does_not_change_output(tmp_path, prompts, *flags):
    cached, _ = run_prompts(tmp_path, prompts, *flags)
    uncached, _ = run_prompts(tmp_path, prompts, "--no-prefix-cache", *flags)
    for with_cache, without_cache in zip(cached, uncached):
        assert with_cache["text"] == without_cache["text"], with_cache["index"]
        assert with_cache["completion_tokens"] == without_cache["completion_tokens"]
        assert without_cache["cached_tokens"] == 0
    return cached


def test_shared_prefix_ending_on_block_boundary(tmp_path):
    # Pad the user turn with "ok" words until the shared part is a whole number of blocks.
    prefix = SYSTEM + "<|im_start|>user\n"
    while prompt_tokens(prefix + "Question:") % 16 != 0:
        prefix += "ok "
    prefix += "Question:"
    prompts = [prefix + q + "<|im_end|>\n<|im_start|>assistant\n" for q in (" Where is Paris?", " Why is the sky blue?")]
    n_common = common_prefix_length(prompt_ids(prompts[0]), prompt_ids(prompts[1]))
    assert n_common % 16 == 0

    results = assert_cache_does_not_change_output(tmp_path, prompts)
    assert results[0]["cached_tokens"] == 0
    assert results[1]["cached_tokens"] == n_common


def test_shared_prefix_ending_mid_block(tmp_path):
    prompts = [SYSTEM + chatml("Name a large river in Africa."), SYSTEM + chatml("Name a tall mountain in Asia.")]
    n_common = common_prefix_length(prompt_ids(prompts[0]), prompt_ids(prompts[1]))
    assert n_common % 16 != 0

    results = assert_cache_does_not_change_output(tmp_path, prompts)
    assert results[1]["cached_tokens"] == n_common // 16 * 16


def test_strict_prefix_of_longer_cached_prompt(tmp_path):
    longer = SYSTEM + chatml("Describe the water cycle in detail, step by step, for a curious child.")
    shorter = SYSTEM
    results = assert_cache_does_not_change_output(tmp_path, [longer, shorter])
    n_shorter = prompt_tokens(shorter)
    # Whole blocks of the shorter prompt are reused, except that its last token always runs.
    assert results[1]["cached_tokens"] == (n_shorter - 1) // 16 * 16


def test_long_prompt_six_times(tmp_path):
    long_prompt = SYSTEM + chatml("Summarize this: " + "The river flows to the sea and the sea feeds the rain. " * 12)
    results = assert_cache_does_not_change_output(tmp_path, [long_prompt] * 6)
    n_prompt = results[0]["prompt_tokens"]
    assert results[0]["cached_tokens"] == 0
    for later in results[1:]:
        assert later["cached_tokens"] == (n_prompt - 1) // 16 * 16
        assert later["text"] == results[0]["text"]


def test_cache_salt_isolates_prompts(tmp_path):
    prompt = SYSTEM + chatml("What is the capital of Spain?")
    lines = [
        {"prompt": prompt, "cache_salt": "tenant-a"},
        {"prompt": prompt, "cache_salt": "tenant-b"},
        prompt,
        {"prompt": prompt, "cache_salt": "tenant-a"},
    ]
    results, _ = run_prompts(tmp_path, lines)
    assert results[0]["cached_tokens"] == 0
    assert results[1]["cached_tokens"] == 0
    assert results[2]["cached_tokens"] == 0
    assert results[3]["cached_tokens"] > 0
    assert len({r["text"] for r in results}) == 1


def test_every_block_free_after_prompts(tmp_path):
    prompts = [SYSTEM + chatml(q) for q in ("Hi!", "What is 2 + 2?", "Tell me a story about a fox.")]
    _, stderr = run_prompts(tmp_path, prompts, "--kv-tokens", "512")
    match = re.search(r"kv cache: (\d+) of (\d+) blocks in use", stderr)
    assert match, stderr
    assert int(match.group(1)) == 0
    assert int(match.group(2)) == 32


def test_small_pool_evicts_and_still_matches(tmp_path):
    prompts = [SYSTEM + chatml(f"Give me a fact about the number {n}.") for n in range(6)]
    cached, stderr = run_prompts(tmp_path, prompts, "--kv-tokens", "160")
    uncached, _ = run_prompts(tmp_path, prompts, "--kv-tokens", "160", "--no-prefix-cache")
    assert [r["text"] for r in cached] == [r["text"] for r in uncached]
    evictions = int(re.search(r"evictions: (\d+)", stderr).group(1))
    assert evictions > 0


def test_pool_too_small_for_prompt_is_an_error(tmp_path):
    result = run_kvinfer("run", "-m", MODEL, "--kv-tokens", "16", "-p", SYSTEM, "--temp", "0")
    assert result.returncode != 0
    message = result.stderr.decode().strip()
    assert "KV blocks" in message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize("value", ["0", "-5", "abc", "12Q", "1e400"])
def test_invalid_kv_memory_is_an_error(value):
    result = run_kvinfer("run", "-m", MODEL, "--kv-memory", value, "-p", "Hi", "-n", "1")
    assert result.returncode != 0
    assert "--kv-memory" in result.stderr.decode() or "memory size" in result.stderr.decode()


def test_kv_memory_sizes_the_pool(tmp_path):
    # 23,040 bytes per token in f16: 2 MiB holds 91 tokens, so 5 blocks of 16.
    _, stderr = run_prompts(tmp_path, ["Hello"], "--kv-memory", "2M", n_predict=4)
    assert "of 5 blocks" in stderr


def test_q8_0_kv_agrees_with_f16_teacher_forced(tmp_path):
    tokens = np.load(GOLDEN / "smollm2_teacher_forced.npz")["tokens"][:600]
    ids = " ".join(map(str, tokens.tolist())).encode()
    top1 = {}
    for kv_type in ("f16", "q8_0"):
        out = tmp_path / f"{kv_type}.f32"
        result = run_kvinfer("score", "-m", MODEL, "--kv-type", kv_type, "--logits-out", out, input_bytes=ids)
        assert result.returncode == 0, result.stderr.decode()
        top1[kv_type] = np.fromfile(out, dtype=np.float32).reshape(len(tokens), -1).argmax(axis=-1)
    agreement = np.mean(top1["f16"] == top1["q8_0"])
    print(f"q8_0 vs f16 KV top-1 agreement over {len(tokens)} tokens: {agreement:.4f}")
    assert agreement >= 0.95


def test_q8_0_kv_generates_coherent_answer():
    result = run_kvinfer(
        "run", "-m", MODEL, "--kv-type", "q8_0", "--temp", "0", "-n", "48", "-p", chatml("What is the capital of France?")
    )
    assert result.returncode == 0, result.stderr.decode()
    assert "Paris" in result.stdout.decode()
