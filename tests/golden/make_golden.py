"""Generate the llama.cpp reference data that tests/python/test_reference.py compares against.

Runs llama.cpp (through the PyPI package llama-cpp-python) on the default model:
  * teacher-forced next-token distributions over a license text installed by Debian's
    base-files package, stored as the top-64 log-probabilities per position;
  * greedy continuations of a few prompts.

Building llama-cpp-python compiles llama.cpp, which takes about 15 minutes on 2 cores,
so the output is committed and the tests only read it. Regenerate with:
    scripts/setup --peer && .venv/bin/python tests/golden/make_golden.py
"""

import argparse
import hashlib
import json
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT_PATH = pathlib.Path("/usr/share/common-licenses/Apache-2.0")
N_TOKENS = 1280
TOP_K = 64

PROMPTS = [
    "The history of the printing press begins",
    "def fibonacci(n):\n",
    "Water boils at a temperature of",
    "Once upon a time, in a small village,",
    "<|im_start|>user\nName three primary colors.<|im_end|>\n<|im_start|>assistant\n",
]
N_CONTINUATION = 32


def log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def teacher_forced(llm, tokens):
    """Top-k log-probabilities of the next token after each prefix of `tokens`."""
    llm.reset()
    llm.eval(tokens)
    logprobs = log_softmax(np.asarray(llm.scores[: len(tokens)], dtype=np.float64))
    top_ids = np.argsort(-logprobs, axis=-1, kind="stable")[:, :TOP_K]
    top_logprobs = np.take_along_axis(logprobs, top_ids, axis=-1)
    return top_ids.astype(np.int32), top_logprobs.astype(np.float32)


def greedy(llm, prompt_tokens):
    llm.reset()
    llm.eval(prompt_tokens)
    generated = []
    for _ in range(N_CONTINUATION):
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        generated.append(token)
        llm.eval([token])
    return generated


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=pathlib.Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "tests" / "golden")
    args = parser.parse_args()

    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(args.model), n_ctx=2048, n_batch=512, n_threads=2, logits_all=True, verbose=False
    )

    text = TEXT_PATH.read_bytes()
    tokens = llm.tokenize(text, add_bos=False, special=False)[:N_TOKENS]
    top_ids, top_logprobs = teacher_forced(llm, tokens)
    np.savez_compressed(
        args.out / "smollm2_teacher_forced.npz",
        tokens=np.asarray(tokens, dtype=np.int32),
        top_ids=top_ids,
        top_logprobs=top_logprobs,
    )

    continuations = []
    for prompt in PROMPTS:
        prompt_tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        continuations.append({"prompt": prompt, "prompt_tokens": prompt_tokens, "continuation": greedy(llm, prompt_tokens)})

    info = {
        "generator": "tests/golden/make_golden.py",
        "llama_cpp_python": llama_cpp.__version__,
        "model_sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
        "text_path": str(TEXT_PATH),
        "text_sha256": hashlib.sha256(text).hexdigest(),
        "n_tokens": len(tokens),
        "top_k": TOP_K,
        "continuations": continuations,
    }
    (args.out / "smollm2_reference.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {len(tokens)} teacher-forced positions and {len(continuations)} continuations to {args.out}")


if __name__ == "__main__":
    main()
