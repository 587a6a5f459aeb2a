// KV cache measurements for `kvinfer bench --kv-scenarios`: memory per token, block
// waste, time to first token with a cached prefix, and decode speed in a full pool.
#pragma once

#include "cli/model_options.h"

namespace kvinfer::cli {

// Runs every KV scenario on the loaded model and prints a report, or one JSON object.
void run_kv_scenarios(const LoadedModel& loaded, const GeneratorOptions& base, bool json);

}  // namespace kvinfer::cli
