// Concurrency benchmark for `kvinfer bench --concurrency 1,4,16,32`: C sequences at
// once through the continuous-batching engine, measured the way
// bench/llama_cpp_batched.py measures llama.cpp.
#pragma once

#include <vector>

#include "cli/model_options.h"

namespace kvinfer::cli {

struct ConcurrencyOptions {
  std::vector<int> concurrency = {1, 4, 16, 32};
  int prompt_tokens = 128;
  int gen_tokens = 64;
  int shared_prefix = 0;
  int max_batch_tokens = 512;
};

// Runs the workload once per concurrency and prints a table, or one JSON object.
void run_concurrency_bench(const LoadedModel& loaded, const GeneratorOptions& base, const ConcurrencyOptions& options,
                           bool json);

}  // namespace kvinfer::cli
