"""kvinfer chat: a multi-turn conversation read from standard input, through the model's
own chat template, with the prefix cache reusing earlier turns."""

import re

from conftest import MODEL, run_kvinfer


def chat(lines, *flags):
    result = run_kvinfer(
        "chat", "-m", MODEL, "--temp", "0", "-n", "40", *flags, input_bytes="".join(l + "\n" for l in lines).encode()
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode(), result.stderr.decode()


def test_two_turns_answer_and_reuse_cache():
    stdout, stderr = chat(
        ["What is the capital of France?", "What is the capital of Italy?"], "--system", "You are a helpful assistant."
    )
    replies = stdout.splitlines()
    assert "Paris" in replies[0]
    assert "Rome" in stdout
    status = re.findall(r"\[prompt (\d+) tokens, (\d+) cached", stderr)
    assert len(status) == 2
    assert int(status[0][1]) == 0
    # The second turn's prompt starts with the first turn, whose blocks are cached.
    assert int(status[1][1]) >= 16
    assert int(status[1][0]) > int(status[0][0])


def test_exit_command_ends_conversation():
    stdout, stderr = chat(["/exit", "What is the capital of France?"])
    assert stdout == ""
    assert "prompt" not in stderr


def test_model_without_template_is_an_error(tmp_path):
    vocab_only = MODEL.parent.parent.parent / "shared" / "fixtures" / "vocab" / "ggml-vocab-gpt-2.gguf"
    result = run_kvinfer("chat", "-m", vocab_only, input_bytes=b"hi\n")
    assert result.returncode != 0
    assert len(result.stderr.decode().strip().splitlines()) == 1
