// KV element type names as the command line spells them.
#include "kv/kv_layout.h"

#include "util/error.h"

namespace kvinfer {

DType parse_kv_type(std::string_view name) {
  if (name == "f16") return DType::F16;
  if (name == "f32") return DType::F32;
  if (name == "q8_0") return DType::Q8_0;
  fail("invalid KV cache type '{}': expected f16, f32 or q8_0", name);
}

}  // namespace kvinfer
