"""Load test: 32 concurrent streaming clients for two minutes, one request in ten
disconnecting mid-stream. No request may fail, the server must stay up, and afterwards
every KV block must be back in the pool.

KVINFER_LOAD_SECONDS shortens or lengthens the run (default 120).
"""

import os
import random
import threading
import time

import openai

from server_process import ServerProcess

N_CLIENTS = 32
LOAD_SECONDS = float(os.environ.get("KVINFER_LOAD_SECONDS", "120"))
SYSTEM = "You are a friendly assistant. Answer briefly and clearly."
QUESTIONS = [
    "What is the capital of France?",
    "Name three fruits.",
    "Why is the sky blue?",
    "Write a haiku about rain.",
    "How many legs does a spider have?",
    "Give me a tip for learning to cook.",
    "What is two plus two?",
    "Describe a cat in one sentence.",
]


class ClientTally:
    def __init__(self):
        self.completed = 0
        self.disconnected = 0
        self.tokens = 0
        self.failures = []


def run_client(base_url, seed, stop_at, tally):
    rng = random.Random(seed)
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0, timeout=300)
    while time.monotonic() < stop_at:
        disconnect = rng.random() < 0.1
        max_tokens = rng.randint(8, 64)
        question = rng.choice(QUESTIONS)
        try:
            if rng.random() < 0.7:
                stream = client.chat.completions.create(
                    model="default", max_tokens=max_tokens, temperature=0.8, seed=rng.randrange(1 << 30), stream=True,
                    stream_options={"include_usage": True},
                    messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}])
            else:
                stream = client.completions.create(
                    model="default", prompt=f"Question: {question}\nAnswer:", max_tokens=max_tokens, temperature=0.8,
                    stream=True, stream_options={"include_usage": True})
            finishes, usage, n_chunks = [], None, 0
            for chunk in stream:
                n_chunks += 1
                if disconnect and n_chunks == 3:
                    stream.close()
                    break
                finishes += [c.finish_reason for c in chunk.choices if c.finish_reason]
                usage = chunk.usage or usage
            if disconnect and n_chunks == 3:
                tally.disconnected += 1
                continue
            if finishes not in (["stop"], ["length"]) or usage is None or not 1 <= usage.completion_tokens <= max_tokens:
                tally.failures.append(f"malformed stream: finishes {finishes}, usage {usage}")
                continue
            tally.completed += 1
            tally.tokens += usage.completion_tokens
        except Exception as error:  # every failure is collected and reported below
            tally.failures.append(repr(error))


def test_32_streaming_clients_with_disconnects():
    server = ServerProcess("-c", "1024", "--max-seqs", "64")
    try:
        stop_at = time.monotonic() + LOAD_SECONDS
        tallies = [ClientTally() for _ in range(N_CLIENTS)]
        threads = [threading.Thread(target=run_client, args=(server.base_url, i, stop_at, tallies[i]))
                   for i in range(N_CLIENTS)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(LOAD_SECONDS + 300)
        elapsed = time.monotonic() - start
        assert not any(thread.is_alive() for thread in threads), "a client hung"

        failures = [f for t in tallies for f in t.failures]
        completed = sum(t.completed for t in tallies)
        disconnected = sum(t.disconnected for t in tallies)
        tokens = sum(t.tokens for t in tallies)
        print(f"\n{completed} streams completed, {disconnected} disconnected, {tokens} tokens in {elapsed:.0f} s "
              f"({tokens / elapsed:.1f} tokens/s)")
        assert not failures, f"{len(failures)} requests failed, e.g. {failures[:3]}"
        assert completed >= N_CLIENTS
        assert disconnected > 0

        stats = server.wait_until_idle(timeout=60)
        assert stats["kv_blocks_used"] == 0
        assert server.get_json("/health") == {"status": "ok"}
        metrics = server.get_text("/metrics")
        cancelled = [line for line in metrics.splitlines() if 'finish_reason="cancelled"' in line]
        assert cancelled
        assert float(cancelled[0].split()[-1]) > 0, "no disconnected stream was cancelled"
    finally:
        code = server.stop()
    assert code == 0, server.log
