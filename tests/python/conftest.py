"""Shared fixtures: paths to the built binary and the default model, and a runner."""

import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
KVINFER = ROOT / "build" / "kvinfer"
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
GOLDEN = ROOT / "tests" / "golden"
FIXTURES = ROOT.parent / "shared" / "fixtures"


def chatml(user_message):
    """A one-turn prompt in ChatML, the default model's chat format, written out by hand."""
    return f"<|im_start|>user\n{user_message}<|im_end|>\n<|im_start|>assistant\n"


def run_kvinfer(*args, input_bytes=None, timeout=300):
    """Run build/kvinfer with `args`; returns the CompletedProcess with bytes output."""
    return subprocess.run(
        [str(KVINFER), *map(str, args)], input=input_bytes, capture_output=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session", autouse=True)
def built_binary_and_model():
    assert KVINFER.exists(), f"{KVINFER} is missing: run scripts/setup first"
    assert MODEL.exists(), f"{MODEL} is missing: run scripts/setup first"
