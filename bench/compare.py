"""Run `kvinfer bench` and the same measurement through llama.cpp in one run, on the same
GGUF file with the same thread count, and print both with their ratios.

Usage: .venv/bin/python bench/compare.py [-m MODEL] [-t THREADS] [-p 512] [-n 128] [-r 3] [--json-out FILE]
       .venv/bin/python bench/compare.py --concurrency 1,4,16,32 [--prompt-tokens 128] [--gen-tokens 64]
                                         [--shared-prefix 0] [--json-out FILE]
The second form compares continuous batching with llama.cpp's batched API
(bench/llama_cpp_batched.py) on the same workload.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def run_json(command):
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"benchmark command failed ({' '.join(map(str, command))}):\n{result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def cpu_name():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def compare_concurrency(args):
    shape = [
        "--prompt-tokens", str(args.prompt_tokens), "--gen-tokens", str(args.gen_tokens),
        "--shared-prefix", str(args.shared_prefix), "--concurrency", args.concurrency,
    ]
    ours = run_json([str(ROOT / "build" / "kvinfer"), "bench", "-m", args.model, "-t", str(args.threads), *shape, "--json"])
    peer = run_json(
        [sys.executable, str(ROOT / "bench" / "llama_cpp_batched.py"), "-m", args.model, "-t", str(args.threads), *shape]
    )
    single = ours["results"][0]["tokens_per_second"] if ours["results"][0]["concurrency"] == 1 else None
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; threads: {args.threads}; prompt {args.prompt_tokens} tokens "
          f"({args.shared_prefix} shared), {args.gen_tokens} generated per sequence")
    header = f"{'C':>4}{'kvinfer tok/s':>15}{'llama.cpp tok/s':>17}{'ratio':>7}{'vs C=1':>8}"
    header += f"{'TTFT p50/p95 ms (kvinfer | llama.cpp)':>40}{'ITL p50/p95 ms (kvinfer | llama.cpp)':>40}"
    print(header)
    for mine, theirs in zip(ours["results"], peer["results"]):
        ratio = mine["tokens_per_second"] / theirs["tokens_per_second"]
        scaling = f"{mine['tokens_per_second'] / single:.2f}x" if single else "-"
        ttft = (f"{mine['ttft_ms_p50']:.0f}/{mine['ttft_ms_p95']:.0f} | "
                f"{theirs['ttft_ms_p50']:.0f}/{theirs['ttft_ms_p95']:.0f}")
        itl = (f"{mine['itl_ms_p50']:.1f}/{mine['itl_ms_p95']:.1f} | "
               f"{theirs['itl_ms_p50']:.1f}/{theirs['itl_ms_p95']:.1f}")
        print(f"{mine['concurrency']:>4}{mine['tokens_per_second']:>15.1f}{theirs['tokens_per_second']:>17.1f}"
              f"{ratio:>6.2f}x{scaling:>8}{ttft:>40}{itl:>40}")
    if args.json_out:
        report = {"machine": cpu_name(), "cpus": os.cpu_count(), "kvinfer": ours, "llama_cpp": peer}
        pathlib.Path(args.json_out).write_text(json.dumps(report, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", default=str(DEFAULT_MODEL))
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-p", "--n-prompt", type=int, default=512)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("-r", "--repetitions", type=int, default=3)
    parser.add_argument("--json-out", help="also write both results and the ratios to this file")
    parser.add_argument("--concurrency", help="compare concurrent serving at these concurrencies, e.g. 1,4,16,32")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--shared-prefix", type=int, default=0)
    args = parser.parse_args()
    if args.concurrency:
        compare_concurrency(args)
        return

    shape = ["-p", str(args.n_prompt), "-n", str(args.n_gen), "-r", str(args.repetitions)]
    ours = run_json([str(ROOT / "build" / "kvinfer"), "bench", "-m", args.model, "-t", str(args.threads), *shape, "--json"])
    peer = run_json(
        [sys.executable, str(ROOT / "bench" / "llama_cpp_peer.py"), "-m", args.model, "-t", str(args.threads), *shape]
    )

    ratios = {
        "pp": ours["pp_tokens_per_second"] / peer["pp_tokens_per_second"],
        "tg": ours["tg_tokens_per_second"] / peer["tg_tokens_per_second"],
    }
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; threads: {args.threads}; model: {args.model}")
    print(f"{'test':<8}{'kvinfer tok/s':>18}{'llama.cpp tok/s':>20}{'ratio':>8}")
    for key, label in (("pp", f"pp{args.n_prompt}"), ("tg", f"tg{args.n_gen}")):
        ours_text = f"{ours[key + '_tokens_per_second']:.1f} ± {ours[key + '_stddev']:.1f}"
        peer_text = f"{peer[key + '_tokens_per_second']:.1f} ± {peer[key + '_stddev']:.1f}"
        print(f"{label:<8}{ours_text:>18}{peer_text:>20}{ratios[key]:>7.2f}x")

    if args.json_out:
        report = {"machine": cpu_name(), "cpus": os.cpu_count(), "kvinfer": ours, "llama_cpp": peer, "ratios": ratios}
        pathlib.Path(args.json_out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
