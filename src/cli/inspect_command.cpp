// `kvinfer inspect`: print what a GGUF file contains (header, metadata, tensor table and
// bytes per tensor type) without loading a model, so a file can be checked before use.
// It reads the file only through gguf::File and interprets no key.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <variant>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "kv/kv_layout.h"
#include "model/llama_config.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

// Long values are cut so that every metadata key stays on one line.
constexpr size_t kMaxStringBytes = 80;
constexpr size_t kMaxElementBytes = 40;
constexpr uint64_t kMaxStringElements = 4;
constexpr uint64_t kMaxNumericElements = 8;

// Returns "1 string", "2 strings": the count and the noun, plural unless the count is 1.
std::string count_of(uint64_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

struct InspectOptions {
  std::string positional_path;
  std::string option_path;
};

// Quotes `text` with C-style escapes for quotes, backslashes and control characters,
// keeping at most `max_bytes` bytes of it. The cut never splits a UTF-8 sequence.
std::string quote_for_display(std::string_view text, size_t max_bytes) {
  size_t n_shown = std::min(text.size(), max_bytes);
  while (n_shown > 0 && n_shown < text.size() && (static_cast<unsigned char>(text[n_shown]) & 0xc0) == 0x80) {
    --n_shown;
  }

  std::string out = "\"";
  for (const char ch : text.substr(0, n_shown)) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
        else out += ch;
    }
  }
  out += n_shown < text.size() ? "...\"" : "\"";
  return out;
}

// Returns a key or tensor name as it is, or quoted and escaped when it contains
// control characters or spaces that would break the one-entry-per-line layout.
std::string format_name(std::string_view name) {
  const bool plain = std::all_of(name.begin(), name.end(), [](char ch) {
    const unsigned char c = static_cast<unsigned char>(ch);
    return c > 0x20 && c != 0x7f;
  });
  return plain && !name.empty() ? std::string(name) : quote_for_display(name, kMaxStringBytes);
}

std::string format_string(std::string_view text, size_t max_bytes) {
  std::string out = quote_for_display(text, max_bytes);
  if (text.size() > max_bytes) out += fmt::format(" ({} bytes)", text.size());
  return out;
}

// Formats a scalar value. FLOAT32 values are printed as float, so that 1e-05 is not
// shown as its widened double 9.999999747378752e-06.
std::string format_scalar(const gguf::Value& value, size_t max_string_bytes) {
  if (const auto* u = std::get_if<uint64_t>(&value.data)) return fmt::format("{}", *u);
  if (const auto* i = std::get_if<int64_t>(&value.data)) return fmt::format("{}", *i);
  if (const auto* b = std::get_if<bool>(&value.data)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string_view>(&value.data)) return format_string(*s, max_string_bytes);
  if (const auto* d = std::get_if<double>(&value.data)) {
    if (value.type == gguf::ValueType::FLOAT32) return fmt::format("{}", static_cast<float>(*d));
    return fmt::format("{}", *d);
  }
  return "?";
}

// Formats an array as its length and its first few elements:
// [49152 strings] "<|endoftext|>", "<|im_start|>", ...
std::string format_array(const gguf::ArrayValue& array) {
  const bool is_string = array.element_type == gguf::ValueType::STRING;
  const uint64_t n_shown = std::min(array.n_elements, is_string ? kMaxStringElements : kMaxNumericElements);

  std::string out = fmt::format("[{}]", count_of(array.n_elements, is_string ? "string" : "element"));
  for (uint64_t i = 0; i < n_shown; ++i) {
    out += i == 0 ? " " : ", ";
    out += format_scalar(gguf::element_at(array, i), kMaxElementBytes);
  }
  if (n_shown < array.n_elements) out += ", ...";
  return out;
}

std::string format_type(const gguf::Value& value) {
  if (const auto* array = std::get_if<gguf::ArrayValue>(&value.data)) {
    return fmt::format("array[{}]", gguf::value_type_name(array->element_type));
  }
  return std::string(gguf::value_type_name(value.type));
}

void print_metadata(const gguf::File& file) {
  fmt::print("\nmetadata ({}):\n", count_of(file.metadata().size(), "key"));
  for (const auto& [key, value] : file.metadata()) {
    const auto* array = std::get_if<gguf::ArrayValue>(&value.data);
    const std::string value_text = array != nullptr ? format_array(*array) : format_scalar(value, kMaxStringBytes);
    fmt::print("  {}: {} = {}\n", format_name(key), format_type(value), value_text);
  }
}

std::string format_dims(const gguf::TensorInfo& info) {
  return fmt::format("[{}]", fmt::join(info.dims.begin(), info.dims.begin() + info.n_dims, ", "));
}

void print_tensors(const gguf::File& file) {
  size_t name_width = 4;
  size_t dims_width = 4;
  for (const gguf::TensorInfo& info : file.tensors()) {
    name_width = std::max(name_width, format_name(info.name).size());
    dims_width = std::max(dims_width, format_dims(info).size());
  }

  fmt::print("\ntensors ({}, offsets from the data section at byte {}):\n", file.tensors().size(),
             file.data_offset());
  fmt::print("  {:<{}}  {:<7}  {:<{}}  {:>12}  {:>12}\n", "name", name_width, "type", "dims", dims_width, "bytes",
             "offset");
  for (const gguf::TensorInfo& info : file.tensors()) {
    fmt::print("  {:<{}}  {:<7}  {:<{}}  {:>12}  {:>12}\n", format_name(info.name), name_width, dtype_name(info.type),
               format_dims(info), dims_width, info.n_bytes, info.offset);
  }
}

void print_type_totals(const gguf::File& file) {
  struct Total {
    uint64_t n_tensors = 0;
    uint64_t n_bytes = 0;
  };
  std::map<uint32_t, Total> by_type;  // ordered by ggml type id
  Total all;
  for (const gguf::TensorInfo& info : file.tensors()) {
    Total& total = by_type[static_cast<uint32_t>(info.type)];
    total.n_tensors += 1;
    total.n_bytes += info.n_bytes;
    all.n_tensors += 1;
    all.n_bytes += info.n_bytes;
  }

  constexpr double kMiB = 1024.0 * 1024.0;
  fmt::print("\nbytes per type:\n");
  for (const auto& [type_id, total] : by_type) {
    fmt::print("  {:<7}  {:>12}  {:>12} bytes  {:>9.2f} MiB\n", dtype_name(static_cast<DType>(type_id)),
               count_of(total.n_tensors, "tensor"), total.n_bytes, total.n_bytes / kMiB);
  }
  fmt::print("  {:<7}  {:>12}  {:>12} bytes  {:>9.2f} MiB\n", "total", count_of(all.n_tensors, "tensor"),
             all.n_bytes, all.n_bytes / kMiB);
}

// KV cache bytes per token for each element type, for files kvinfer can run.
void print_kv_sizes(const gguf::File& file) {
  LlamaConfig config;
  try {
    config = LlamaConfig::from_gguf(file);
  } catch (const Error& e) {
    fmt::print("\nKV cache: not a model kvinfer runs ({})\n", e.what());
    return;
  }
  fmt::print("\nKV cache bytes per token ({} layers x {} KV heads x {} x K and V):\n", config.n_layers, config.n_kv_heads,
             config.head_dim);
  for (const char* name : {"f16", "q8_0", "f32"}) {
    KvLayout layout{config.n_layers, config.n_kv_heads, config.head_dim, 16, parse_kv_type(name)};
    fmt::print("  {:<5} {:>8} bytes\n", name, layout.bytes_per_token());
  }
}

void inspect(const InspectOptions& options) {
  if (!options.positional_path.empty() && !options.option_path.empty() &&
      options.positional_path != options.option_path) {
    fail("two different model files given: '{}' and -m '{}'; pass one", options.positional_path, options.option_path);
  }
  const std::string& path = options.positional_path.empty() ? options.option_path : options.positional_path;
  if (path.empty()) fail("missing model file: pass it as `kvinfer inspect MODEL` or with -m MODEL");

  const gguf::File file(path);
  fmt::print("file: {} ({} bytes)\n", file.path(), file.file_size());
  fmt::print("GGUF version: {}\n", file.version());
  fmt::print("tensors: {}\n", file.tensors().size());
  fmt::print("alignment: {}\n", file.alignment());
  print_metadata(file);
  print_tensors(file);
  print_type_totals(file);
  print_kv_sizes(file);
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* command = app.add_subcommand("inspect", "Print a GGUF file's header, metadata and tensor table");
  command->add_option("MODEL", options->positional_path, "GGUF model file");
  command->add_option("-m,--model", options->option_path, "GGUF model file, as an alternative to MODEL");
  command->callback([options] { inspect(*options); });
}

}  // namespace kvinfer::cli
