"""`kvinfer serve` driven by real clients: the official openai package, curl and raw sockets.

Most tests share one server on a free loopback port. Tests that need other options (an
API key, a small body limit, shutdown) start their own.
"""

import json
import shutil
import signal
import socket
import subprocess
import threading
import time

import openai
import pytest

from conftest import KVINFER, ROOT
from server_process import ServerProcess

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def server():
    process = ServerProcess("-c", "2048", "--max-seqs", "16")
    yield process
    assert process.stop() == 0, process.log


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0, timeout=120)


def chat(client, content, **kwargs):
    return client.chat.completions.create(model="default", messages=[{"role": "user", "content": content}], **kwargs)


def stream_chat_text(client, content, **kwargs):
    """Streams a one-choice chat completion; returns (text, finish_reason, chunks)."""
    chunks = list(chat(client, content, stream=True, **kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1, chunks
    return text, finish[0], chunks


def raw_request(server, method, path, body=b"", headers=None):
    """Sends one HTTP request over a plain socket; returns (status, headers text, body bytes)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header_text, _, payload = data.partition(b"\r\n\r\n")
    return int(header_text.split()[1]), header_text.decode(), payload


# --- routes -----------------------------------------------------------------------


def test_health_models_and_unknown_routes(server, client):
    assert server.get_json("/health") == {"status": "ok"}
    models = client.models.list()
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct.Q4_1"]
    status, _, body = raw_request(server, "GET", "/v1/nothing-here")
    assert status == 404
    assert json.loads(body)["error"]["message"] == "no route for GET /v1/nothing-here"
    for method in ("GET", "DELETE"):
        status, _, body = raw_request(server, method, "/v1/chat/completions")
        assert status == 405
        assert "POST" in json.loads(body)["error"]["message"]
    assert client.models.retrieve("SmolLM2-135M-Instruct.Q4_1").id == "SmolLM2-135M-Instruct.Q4_1"
    with pytest.raises(openai.NotFoundError) as error:
        client.models.retrieve("gpt-4")
    assert error.value.response.json()["error"]["code"] == "model_not_found"


# --- chat and completions -------------------------------------------------------------


def test_chat_completion(client):
    response = chat(client, QUESTION, temperature=0, max_tokens=24)
    choice = response.choices[0]
    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert 0 < response.usage.completion_tokens <= 24
    assert response.usage.prompt_tokens > 10
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_completion_greedy_answer(client):
    response = client.completions.create(model="default", prompt="The capital of France is", max_tokens=4, temperature=0)
    assert response.object == "text_completion"
    assert response.choices[0].text.startswith(" Paris")
    assert response.usage.prompt_tokens == 5


def test_stream_equals_non_stream(client):
    whole = chat(client, "Write a short poem about the sea.", temperature=0, max_tokens=48)
    text, finish, chunks = stream_chat_text(client, "Write a short poem about the sea.", temperature=0, max_tokens=48)
    assert text == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 5, "the reply did not stream in pieces"

    prompt = "Once upon a time, in a quiet village,"
    whole = client.completions.create(model="default", prompt=prompt, temperature=0, max_tokens=40)
    pieces = list(client.completions.create(model="default", prompt=prompt, temperature=0, max_tokens=40, stream=True))
    assert "".join(p.choices[0].text for p in pieces if p.choices) == whole.choices[0].text


def test_stream_usage_with_cached_tokens(client):
    system = "You are a careful assistant who answers in one sentence. " * 8
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Name a colour."}]
    first = client.chat.completions.create(model="default", messages=messages, max_tokens=8, temperature=0)
    chunks = list(client.chat.completions.create(model="default", messages=messages, max_tokens=8, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1
    assert usage_chunks[0] is chunks[-1]
    assert chunks[-1].choices == []
    usage = usage_chunks[0].usage
    assert usage.prompt_tokens == first.usage.prompt_tokens
    # Every full block of the repeated prompt comes from the prefix cache.
    assert usage.prompt_tokens_details.cached_tokens >= usage.prompt_tokens - 16
    assert usage.prompt_tokens_details.cached_tokens > 0


def test_n_samples_with_seed(client):
    response = chat(client, "Tell me a fun fact.", n=3, temperature=1.0, seed=7, max_tokens=16)
    assert sorted(c.index for c in response.choices) == [0, 1, 2]
    again = chat(client, "Tell me a fun fact.", n=3, temperature=1.0, seed=7, max_tokens=16)
    assert [c.message.content for c in again.choices] == [c.message.content for c in response.choices]
    assert len({c.message.content for c in response.choices}) > 1, "three samples with different seeds all agreed"

    chunks = list(chat(client, "Tell me a fun fact.", n=3, temperature=1.0, seed=7, max_tokens=16, stream=True))
    streamed = ["", "", ""]
    for chunk in chunks:
        for choice in chunk.choices:
            streamed[choice.index] += choice.delta.content or ""
    assert streamed == [c.message.content for c in response.choices]


def test_seed_gives_the_same_text(client):
    texts = {chat(client, "Invent a name for a cat.", temperature=1.2, seed=1234, max_tokens=20).choices[0].message.content
             for _ in range(2)}
    assert len(texts) == 1
    others = {chat(client, "Invent a name for a cat.", temperature=1.2, seed=s, max_tokens=20).choices[0].message.content
              for s in (1, 2, 3)}
    assert len(others | texts) > 1


def test_stop_strings(client):
    prompt = "Count from one to twenty:"
    full = client.completions.create(model="default", prompt=prompt, temperature=0, max_tokens=60).choices[0].text
    assert len(full) > 20, full
    # A stop string cut from the middle of the greedy text, so it may start or end
    # inside a token.
    stop = full[len(full) // 2: len(full) // 2 + 3]
    expected = full[: full.index(stop)]
    response = client.completions.create(model="default", prompt=prompt, temperature=0, max_tokens=60,
                                         stop=[stop, "no such text"])
    assert response.choices[0].text == expected
    assert response.choices[0].finish_reason == "stop"
    pieces = list(client.completions.create(model="default", prompt=prompt, temperature=0, max_tokens=60, stop=stop,
                                            stream=True))
    # No piece of the stop string leaks into the stream, not even one held back for a while.
    assert "".join(p.choices[0].text for p in pieces if p.choices) == expected
    assert [p.choices[0].finish_reason for p in pieces if p.choices and p.choices[0].finish_reason] == ["stop"]


def test_logprobs(client):
    response = chat(client, QUESTION, temperature=0, max_tokens=6, logprobs=True, top_logprobs=3)
    content = response.choices[0].logprobs.content
    assert len(content) == response.usage.completion_tokens
    assert "".join(entry.token for entry in content) == response.choices[0].message.content
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].token == entry.token  # greedy picks the most likely token
        assert bytes(entry.bytes).decode(errors="replace") == entry.token

    completion = client.completions.create(model="default", prompt="The capital of France is", max_tokens=3,
                                           temperature=0, logprobs=2)
    lp = completion.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 3
    assert lp.tokens[0] == " Paris"
    assert all(len(t) == 2 for t in lp.top_logprobs)


def test_token_id_prompt_and_extensions(client):
    text = client.completions.create(model="default", prompt="The capital of France is", max_tokens=3, temperature=0)
    ids = client.completions.create(model="default", prompt=[504, 3575, 282, 4649, 314], max_tokens=3, temperature=0)
    assert ids.usage.prompt_tokens == 5
    assert ids.choices[0].text == text.choices[0].text
    response = client.completions.create(model="default", prompt="Hello", max_tokens=12, temperature=0.7, seed=3,
                                         extra_body={"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.1,
                                                     "ignore_eos": True, "cache_salt": "tenant-a"})
    assert response.usage.completion_tokens == 12
    assert response.choices[0].finish_reason == "length"


def test_unicode_stream_is_whole_characters(server):
    body = json.dumps({"messages": [{"role": "user", "content": "Write three emoji and the word café in Japanese: 日本語"}],
                       "max_tokens": 40, "temperature": 0, "stream": True}).encode()
    status, headers, payload = raw_request(server, "POST", "/v1/chat/completions", body,
                                           {"Content-Type": "application/json"})
    assert status == 200
    # Every event decodes as UTF-8 on its own: no character is split across events.
    events = dechunk(payload).split(b"\n\n")
    for event in events:
        event.decode("utf-8", errors="strict")


# --- server-sent event framing with curl ---------------------------------------------


def dechunk(payload):
    """Decodes an HTTP/1.1 chunked body."""
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2:]
    return out


def test_curl_sse_framing(server):
    curl = shutil.which("curl")
    assert curl, "curl is missing: run scripts/setup"
    body = json.dumps({"prompt": "The capital of France is", "max_tokens": 8, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}})
    result = subprocess.run([curl, "-sS", "-N", "-i", "-H", "Content-Type: application/json", "-d", body,
                             server.base_url + "/v1/completions"], capture_output=True, timeout=60, check=True)
    head, _, payload = result.stdout.partition(b"\r\n\r\n")
    assert b"200" in head.split(b"\r\n")[0]
    assert b"content-type: text/event-stream" in head.lower()
    assert payload.endswith(b"data: [DONE]\n\n")
    events = payload.split(b"\n\n")
    assert events[-1] == b""
    events = events[:-1]
    assert all(e.startswith(b"data: ") and b"\n" not in e for e in events), events
    chunks = [json.loads(e[len(b"data: "):]) for e in events[:-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 8
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1]).startswith(" Paris")


# --- invalid requests -------------------------------------------------------------------


def assert_error(error, status, param=None, code=None):
    body = error.value.response.json()["error"]
    assert error.value.status_code == status
    assert body["type"]
    assert body["message"]
    assert "\n" not in body["message"]
    assert body["param"] == param, body
    if code:
        assert body["code"] == code
    return body


@pytest.mark.parametrize("kwargs, param", [
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": 5}, "temperature"),
    ({"temperature": -0.5}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"n": 0}, "n"),
    ({"n": 1000}, "n"),
    ({"n": 1.5}, "n"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": "many"}, "max_tokens"),
    ({"max_completion_tokens": -3}, "max_completion_tokens"),
    ({"top_logprobs": 3}, "top_logprobs"),
    ({"logprobs": True, "top_logprobs": 99}, "top_logprobs"),
    ({"stop": ""}, "stop"),
    ({"stop": [1, 2]}, "stop"),
    ({"seed": "abc"}, "seed"),
    ({"seed": 2**64}, "seed"),
    ({"stream": "yes"}, "stream"),
    ({"presence_penalty": 1.0}, "presence_penalty"),
    ({"extra_body": {"top_k": -7}}, "top_k"),
    ({"extra_body": {"min_p": 2}}, "min_p"),
    ({"extra_body": {"repetition_penalty": 0}}, "repetition_penalty"),
    ({"extra_body": {"ignore_eos": "sure"}}, "ignore_eos"),
])
def test_invalid_chat_fields(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as error:
        chat(client, "Hi", **kwargs)
    assert_error(error, 400, param)


@pytest.mark.parametrize("messages, param", [
    ([], "messages"),
    ("hello", "messages"),
    ([{"content": "no role"}], "messages[0].role"),
    ([{"role": "wizard", "content": "hi"}], "messages[0].role"),
    ([{"role": "user", "content": 42}], "messages[0].content"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}], "messages[0].content[0]"),
    ([{"role": "user", "content": "a"},
      {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function",
                                                           "function": {"name": "f", "arguments": "{}"}}]}],
     "messages[1].tool_calls"),
    (["not an object"], "messages[0]"),
])
def test_invalid_messages(client, messages, param):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="default", messages=messages)
    assert_error(error, 400, param)


def test_missing_and_empty_prompts(client, server):
    status, body = server.post("/v1/chat/completions", {"model": "default"})
    assert status == 400
    assert body["error"]["param"] == "messages"
    status, body = server.post("/v1/completions", {"model": "default"})
    assert status == 400
    assert body["error"]["param"] == "prompt"
    for prompt in ("", [], [[]]):
        with pytest.raises(openai.BadRequestError) as error:
            client.completions.create(model="default", prompt=prompt)
        assert_error(error, 400, "prompt")
    with pytest.raises(openai.BadRequestError) as error:
        client.completions.create(model="default", prompt=[5, 99999999])
    assert "outside the vocabulary" in assert_error(error, 400, "prompt")["message"]
    with pytest.raises(openai.BadRequestError) as error:
        client.completions.create(model="default", prompt=["one", "two"])
    assert_error(error, 400, "prompt")


def test_prompt_longer_than_the_context(client):
    with pytest.raises(openai.BadRequestError) as error:
        chat(client, "hello " * 3000)
    body = assert_error(error, 400, "messages", code="context_length_exceeded")
    assert "2048" in body["message"]
    with pytest.raises(openai.BadRequestError) as error:
        client.completions.create(model="default", prompt="hello " * 3000)
    assert_error(error, 400, "prompt", code="context_length_exceeded")


@pytest.mark.parametrize("body, fragment", [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"prompt": "x", "temperature": NaN}', "not valid JSON"),
    (b'{"prompt": "x", "temperature": Infinity}', "not valid JSON"),
    (b'{"prompt": "x", "temperature": 1e999}', "not valid JSON"),
    (b'{"prompt": "x", "max_tokens": 1e999}', "not valid JSON"),
    (b"[" * 100000, "nests deeper"),
    (b'{"prompt": "\xff\xfe"}', "not valid JSON"),
])
def test_malformed_bodies(server, body, fragment):
    status, _, payload = raw_request(server, "POST", "/v1/completions", body, {"Content-Type": "application/json"})
    assert status == 400
    error = json.loads(payload)["error"]
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"


def test_server_survives_bad_input(server, client):
    """After every error above, the server still returns completions and holds no blocks."""
    assert chat(client, "Say hi.", max_tokens=4, temperature=0).choices[0].message.content
    server.wait_until_idle()


# --- metrics ------------------------------------------------------------------------------


def test_metrics_pass_promtool(server, client):
    chat(client, QUESTION, max_tokens=8, temperature=0)
    text = server.get_text("/metrics")
    promtool = ROOT / ".venv" / "bin" / "promtool"
    assert promtool.exists(), f"{promtool} is missing: run scripts/setup"
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    stats = server.get_json("/stats")
    assert values["kvinfer_kv_pool_blocks"] == stats["kv_blocks_total"] > 0
    for name in ("kvinfer_kv_blocks_used", "kvinfer_requests_running", "kvinfer_requests_waiting",
                 "kvinfer_preemptions_total", "kvinfer_prefix_cache_queries_total", "kvinfer_prefix_cache_hits_total"):
        assert name in values
    assert values["kvinfer_prompt_tokens_total"] > 0
    assert values["kvinfer_generation_tokens_total"] >= 8
    assert values["kvinfer_time_to_first_token_seconds_count"] > 0
    assert values["kvinfer_inter_token_latency_seconds_count"] > 0
    assert values['kvinfer_time_to_first_token_seconds_bucket{le="+Inf"}'] == values[
        "kvinfer_time_to_first_token_seconds_count"]


# --- disconnects -----------------------------------------------------------------------------


def start_request_and_disconnect(server, body, wait_for_events, tokens_before):
    """Sends a long request over a raw socket and closes the socket once it is running."""
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    if wait_for_events:
        received = b""
        while received.count(b"data: ") < 5:
            received += sock.recv(65536)
    else:
        deadline = time.monotonic() + 30
        while server.get_json("/stats")["generation_tokens_total"] < tokens_before + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert server.get_json("/stats")["kv_blocks_used"] > 0
    sock.close()


@pytest.mark.parametrize("stream", [True, False])
def test_disconnect_cancels_the_request(server, stream):
    before = server.get_json("/stats")["generation_tokens_total"]
    body = json.dumps({"prompt": "Tell me a very long story.", "max_tokens": 1500, "ignore_eos": True,
                       "stream": stream}).encode()
    start_request_and_disconnect(server, body, wait_for_events=stream, tokens_before=before)
    stats = server.wait_until_idle(timeout=20)
    # The request ended long before its 1500 tokens.
    assert stats["generation_tokens_total"] - before < 500


# --- authentication, limits and shutdown ----------------------------------------------------------


def test_api_key_and_body_limit():
    process = ServerProcess("-c", "512", "--api-key", "s3cret", "--max-body-size", "64K")
    try:
        good = openai.OpenAI(base_url=process.base_url + "/v1", api_key="s3cret", max_retries=0)
        bad = openai.OpenAI(base_url=process.base_url + "/v1", api_key="wrong", max_retries=0)
        assert good.completions.create(model="m", prompt="Hi", max_tokens=2).usage.completion_tokens == 2
        with pytest.raises(openai.AuthenticationError) as error:
            bad.completions.create(model="m", prompt="Hi", max_tokens=2)
        assert error.value.response.json()["error"]["code"] == "invalid_api_key"
        status, body = process.post("/v1/models", {})
        assert status == 401
        assert body["error"]["message"].startswith("missing API key")
        assert process.get_json("/health") == {"status": "ok"}  # health needs no key
        with pytest.raises(openai.APIStatusError) as error:
            good.completions.create(model="m", prompt="x" * 100_000, max_tokens=2)
        assert error.value.status_code == 413
        assert "limit of 65536 bytes" in error.value.response.json()["error"]["message"]
    finally:
        assert process.stop() == 0, process.log


def test_sigterm_finishes_in_flight_requests():
    process = ServerProcess("-c", "512")
    try:
        client = openai.OpenAI(base_url=process.base_url + "/v1", api_key="unused", max_retries=0)
        result = {}

        def stream():
            pieces = []
            for chunk in client.completions.create(model="m", prompt="Once upon a time", max_tokens=300,
                                                   stream=True, extra_body={"ignore_eos": True}):
                pieces.append(chunk)
                if len(pieces) == 3:
                    result["started"] = True
            result["chunks"] = pieces

        thread = threading.Thread(target=stream)
        thread.start()
        deadline = time.monotonic() + 60
        while "started" not in result and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert result.get("started")
        process.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert process.process.poll() is None, "the server did not wait for the in-flight request"
        status, body = process.post("/v1/completions", {"prompt": "late", "max_tokens": 2})
        assert status == 503
        assert body["error"]["type"] == "service_unavailable"
        thread.join(60)
        assert process.stop(timeout=60) == 0, process.log
        finishes = [c.choices[0].finish_reason for c in result["chunks"] if c.choices and c.choices[0].finish_reason]
        assert finishes == ["length"]
        assert sum(1 for c in result["chunks"] if c.choices and c.choices[0].text) >= 290
        assert "stopped" in process.log
    finally:
        process.kill_if_running()


def test_second_sigint_cancels_at_once():
    process = ServerProcess("-c", "4096", "--shutdown-timeout", "600")
    try:
        client = openai.OpenAI(base_url=process.base_url + "/v1", api_key="unused", max_retries=0)
        result = {}

        def stream():
            chunks = list(client.completions.create(model="m", prompt="Tell me everything.", max_tokens=3000, stream=True,
                                                    extra_body={"ignore_eos": True}))
            result["finish"] = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]

        thread = threading.Thread(target=stream)
        thread.start()
        time.sleep(2)
        process.process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert process.process.poll() is None, "the server did not wait for the in-flight request"
        process.process.send_signal(signal.SIGINT)
        assert process.process.wait(30) == 0, process.log
        thread.join(30)
        assert result["finish"] == ["cancelled"]
    finally:
        process.kill_if_running()


def test_replies_stop_at_the_pool_size():
    """Four samples that each want more positions than a 4-block pool end with "length"."""
    process = ServerProcess("-c", "256", "--kv-tokens", "64")
    try:
        client = openai.OpenAI(base_url=process.base_url + "/v1", api_key="unused", max_retries=0)
        response = client.completions.create(model="m", prompt="Hello", max_tokens=100, n=4,
                                             extra_body={"ignore_eos": True})
        assert [c.finish_reason for c in response.choices] == ["length"] * 4
        assert response.usage.completion_tokens == 4 * 63
        assert process.get_json("/health") == {"status": "ok"}
        assert process.wait_until_idle()["kv_blocks_used"] == 0
    finally:
        assert process.stop() == 0, process.log


@pytest.mark.parametrize("args, message", [
    (["--host", "999.1.1.1"], "invalid host '999.1.1.1': not a valid IP address"),
    (["--host", ""], "invalid host ''"),
    (["--api-key", ""], "--api-key (or KVINFER_API_KEY) is empty"),
    (["--port", "70000"], "70000"),
])
def test_bad_serve_options(args, message):
    result = subprocess.run([str(KVINFER), "serve", "--port", "0", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_port_in_use(server):
    port = server.base_url.rsplit(":", 1)[1]
    result = subprocess.run([str(KVINFER), "serve", "--port", port], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use\n" in result.stderr


def test_wrong_methods_get_405(server):
    for method, path, allowed in (("DELETE", "/v1/completions", "POST"), ("POST", "/v1/models", "GET"),
                                  ("POST", "/health", "GET"), ("PUT", "/stats", "GET")):
        status, headers, body = raw_request(server, method, path, b"{}")
        assert status == 405, (method, path)
        assert f"Allow: {allowed}" in headers
        assert json.loads(body)["error"]["message"] == f"{path} accepts {allowed} only, not {method}"
