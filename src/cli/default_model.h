// Location of the default model that scripts/setup installs.
#pragma once

#include <string>

namespace kvinfer::cli {

// Returns $KVINFER_MODEL when set, otherwise models/SmolLM2-135M-Instruct.Q4_1.gguf in
// the repository that contains this binary (the binary is build/kvinfer).
std::string default_model_path();

}  // namespace kvinfer::cli
