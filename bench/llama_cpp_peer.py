"""Measure llama.cpp (through llama-cpp-python) the way `kvinfer bench` measures kvinfer.

pp: one batched evaluation of a prompt of random tokens from an empty cache;
tg: tokens evaluated one at a time from an empty cache. Prints one JSON object.
"""

import argparse
import json
import random
import statistics
import time


def measure(model, threads, n_prompt, n_gen, repetitions):
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=model,
        n_ctx=max(n_prompt, n_gen) + 16,
        n_batch=max(n_prompt, 1),
        n_ubatch=max(n_prompt, 1),
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    rng = random.Random(1)
    n_vocab = llm.n_vocab()
    prompt = [rng.randrange(n_vocab) for _ in range(n_prompt)]
    generated = [rng.randrange(n_vocab) for _ in range(n_gen)]

    llm.reset()
    llm.eval(prompt[:16])  # warm-up: pages the weights in

    pp_rates, tg_rates = [], []
    for _ in range(repetitions):
        llm.reset()
        start = time.perf_counter()
        llm.eval(prompt)
        pp_rates.append(n_prompt / (time.perf_counter() - start))

        llm.reset()
        start = time.perf_counter()
        for token in generated:
            llm.eval([token])
        tg_rates.append(n_gen / (time.perf_counter() - start))

    def spread(rates):
        return statistics.stdev(rates) if len(rates) > 1 else 0.0

    return {
        "engine": "llama.cpp",
        "version": llama_cpp.__version__,
        "model": model,
        "threads": threads,
        "n_prompt": n_prompt,
        "n_gen": n_gen,
        "repetitions": repetitions,
        "pp_tokens_per_second": statistics.mean(pp_rates),
        "pp_stddev": spread(pp_rates),
        "tg_tokens_per_second": statistics.mean(tg_rates),
        "tg_stddev": spread(tg_rates),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-p", "--n-prompt", type=int, default=512)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("-r", "--repetitions", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.model, args.threads, args.n_prompt, args.n_gen, args.repetitions)))


if __name__ == "__main__":
    main()
