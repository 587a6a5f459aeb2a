"""The kvinfer command line on the real default model: output, flags and errors."""

import pytest

from conftest import FIXTURES, MODEL, chatml, run_kvinfer


def generate(prompt, *flags):
    result = run_kvinfer("run", "-m", MODEL, "-p", prompt, *flags)
    assert result.returncode == 0, result.stderr.decode()
    return result


def test_run_answers_capital_of_france():
    result = generate(chatml("What is the capital of France?"), "--temp", "0", "-n", "48")
    assert "Paris" in result.stdout.decode()


def test_run_prints_timing_summary_on_stderr():
    result = generate("The sky is", "--temp", "0", "-n", "8")
    summary = result.stderr.decode()
    assert "prompt: 3 tokens" in summary
    assert "generation: 8 tokens" in summary
    assert "tokens/s" in summary


def test_run_does_not_echo_prompt():
    result = generate("The quick brown fox", "--temp", "0", "-n", "4")
    assert not result.stdout.decode().startswith("The quick brown fox")


def test_run_uses_default_model_without_flag():
    result = run_kvinfer("run", "-p", "Hello", "--temp", "0", "-n", "4")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.strip()


def test_no_kv_cache_produces_same_tokens():
    prompt = chatml("Write a sentence about the sea.")
    cached = generate(prompt, "--temp", "0", "-n", "40")
    recomputed = generate(prompt, "--temp", "0", "-n", "40", "--no-kv-cache")
    assert cached.stdout == recomputed.stdout


def test_no_kv_cache_same_tokens_when_sampling():
    prompt = "Once upon a time"
    cached = generate(prompt, "--temp", "0.9", "--seed", "7", "-n", "30")
    recomputed = generate(prompt, "--temp", "0.9", "--seed", "7", "-n", "30", "--no-kv-cache")
    assert cached.stdout == recomputed.stdout


def test_seed_makes_sampling_reproducible():
    prompt = "My favourite animal is"
    first = generate(prompt, "--temp", "1.0", "--seed", "42", "-n", "32")
    second = generate(prompt, "--temp", "1.0", "--seed", "42", "-n", "32")
    assert first.stdout == second.stdout


def test_different_seeds_differ():
    prompt = "List some fruits:"
    outputs = {generate(prompt, "--temp", "1.2", "--top-k", "0", "--top-p", "1", "--seed", str(s), "-n", "32").stdout for s in range(4)}
    assert len(outputs) > 1


@pytest.mark.parametrize(
    "flags",
    [
        ["--top-k", "5", "--temp", "0.7", "--seed", "1"],
        ["--top-p", "0.5", "--temp", "0.7", "--seed", "1"],
        ["--min-p", "0.2", "--temp", "0.7", "--seed", "1"],
        ["--repeat-penalty", "1.3", "--temp", "0", "--seed", "1"],
        ["--kv-type", "q8_0", "--temp", "0"],
        ["--kv-type", "f32", "--temp", "0"],
        ["-t", "1", "--temp", "0"],
    ],
)
def test_sampling_and_cache_flags_generate_text(flags):
    result = generate(chatml("Name a color."), "-n", "16", *flags)
    assert result.stdout.strip()


def test_f32_and_f16_kv_greedy_agree():
    prompt = chatml("What is the capital of France?")
    f16 = generate(prompt, "--temp", "0", "-n", "24")
    f32 = generate(prompt, "--temp", "0", "-n", "24", "--kv-type", "f32")
    assert f16.stdout == f32.stdout


def test_length_limit_reports_length_finish():
    result = generate("Count: one, two, three,", "--temp", "0", "-n", "5")
    assert "finish: length" in result.stderr.decode()


def test_end_of_generation_reports_stop():
    result = generate(chatml("Say yes."), "--temp", "0", "-n", "200")
    assert "finish: stop" in result.stderr.decode()


def test_prompt_longer_than_context_is_an_error():
    result = run_kvinfer("run", "-m", MODEL, "-c", "16", "-p", "word " * 40, "--temp", "0")
    assert result.returncode != 0
    message = result.stderr.decode().strip()
    assert len(message.splitlines()) == 1
    assert "context" in message


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "-m", "/nonexistent/model.gguf", "-p", "x"], "/nonexistent/model.gguf"),
        (["run", "-m", "/etc/hostname", "-p", "x"], "/etc/hostname"),
        (["run", "-m", "/tmp", "-p", "x"], "/tmp"),
        (["run", "-p", "x", "--temp", "-1"], "--temp"),
        (["run", "-p", "x", "--top-p", "abc"], "--top-p"),
        (["run", "-p", "x", "--kv-type", "q3"], "--kv-type"),
        (["run", "-p", "x", "--bogus"], "--bogus"),
        (["run"], "--prompt"),
        (["inspect", "/nonexistent.gguf"], "/nonexistent.gguf"),
        (["run", "-m", FIXTURES / "vocab" / "ggml-vocab-gpt-2.gguf", "-p", "x"], "unsupported model architecture 'gpt2'"),
        (["run", "-m", FIXTURES / "vocab" / "ggml-vocab-llama-spm.gguf", "-p", "x"], "missing tensor 'token_embd.weight'"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_gives_one_line_error(args, expected):
    result = run_kvinfer(*args)
    assert result.returncode != 0
    stderr = result.stderr.decode().strip()
    assert stderr, "no error message"
    assert "Traceback" not in stderr
    assert "terminate called" not in stderr
    first_line = stderr.splitlines()[0]
    assert expected in stderr, stderr
    assert len(first_line) < 300


def test_inspect_lists_metadata_and_tensors():
    result = run_kvinfer("inspect", MODEL)
    assert result.returncode == 0, result.stderr.decode()
    text = result.stdout.decode()
    assert "general.architecture" in text
    assert "llama" in text
    assert "token_embd.weight" in text
    assert "Q4_1" in text
    assert "blk.29.ffn_down.weight" in text


def test_tokenize_detokenize_round_trip():
    text = "Hello world! Ünïcödé 🙂 and <|im_start|> tokens.\n"
    tokens = run_kvinfer("tokenize", "-m", MODEL, "--raw", input_bytes=text.encode())
    assert tokens.returncode == 0, tokens.stderr.decode()
    ids = tokens.stdout.decode().split()
    assert all(i.isdigit() for i in ids)
    back = run_kvinfer("detokenize", "-m", MODEL, input_bytes=" ".join(ids).encode())
    assert back.returncode == 0, back.stderr.decode()
    assert back.stdout.decode() == text


def test_tokenize_recognises_special_tokens_unless_raw():
    text = b"<|im_start|>user"
    default = run_kvinfer("tokenize", "-m", MODEL, input_bytes=text).stdout.decode().split()
    raw = run_kvinfer("tokenize", "-m", MODEL, "--raw", input_bytes=text).stdout.decode().split()
    assert default[0] == "1"  # <|im_start|> is token 1 in SmolLM2's vocabulary
    assert len(raw) > len(default)


def test_bench_json_reports_both_rates():
    import json

    result = run_kvinfer("bench", "-m", MODEL, "-p", "32", "-n", "8", "-r", "1", "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["pp_tokens_per_second"] > 0
    assert report["tg_tokens_per_second"] > 0
    assert report["n_prompt"] == 32
