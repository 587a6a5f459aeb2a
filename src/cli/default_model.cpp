// The default model path, found relative to the running binary.
#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>

namespace kvinfer::cli {

std::string default_model_path() {
  if (const char* from_env = std::getenv("KVINFER_MODEL"); from_env != nullptr && *from_env != '\0') return from_env;
  std::error_code error;
  std::filesystem::path binary = std::filesystem::read_symlink("/proc/self/exe", error);
  std::filesystem::path root = error ? std::filesystem::current_path() : binary.parent_path().parent_path();
  return (root / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf").string();
}

}  // namespace kvinfer::cli
