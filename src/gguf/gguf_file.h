// Reader for GGUF files (versions 2 and 3): metadata key/values and the tensor table.
// It validates every length, count and offset against the file size before use.
// It knows nothing about models: model/ and tokenizer/ interpret the keys.
//
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
//   magic "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x (string key, u32 value_type, value),
//   tensor_count x (string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset),
//   padding to `general.alignment` (default 32), then the tensor data section.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "tensor/dtype.h"
#include "util/mapped_file.h"

namespace kvinfer::gguf {

// Value type ids of GGUF metadata.
enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType type);

// An array value. Elements stay in the mapped file; strings are views into it.
struct ArrayValue {
  ValueType element_type;
  uint64_t n_elements;
  std::span<const uint8_t> raw;          // packed elements, for numeric element types
  std::vector<std::string_view> strings;  // for STRING element types
  // Nested arrays are rejected at load: no known GGUF writer emits them for the keys
  // kvinfer reads.
};

// A metadata value. Integers are widened to int64/uint64, floats to double; `type`
// keeps the type as stored.
struct Value {
  ValueType type;
  std::variant<uint64_t, int64_t, double, bool, std::string_view, ArrayValue> data;
};

// Returns element `index` of an array as a scalar Value, widened like a scalar value.
// Throws std::out_of_range when index >= array.n_elements.
Value element_at(const ArrayValue& array, uint64_t index);

// One entry of the tensor table.
struct TensorInfo {
  std::string name;
  DType type;
  uint32_t n_dims;
  std::array<uint64_t, 4> dims;  // dims[0] is the contiguous (row) dimension; unused dims are 1
  uint64_t n_elements;
  uint64_t offset;  // from the start of the data section
  uint64_t n_bytes;
  const uint8_t* data;  // into the mapping

  uint64_t n_rows() const { return n_elements / dims[0]; }
  uint64_t row_bytes() const { return n_bytes / n_rows(); }
};

// A parsed, validated GGUF file. Throws kvinfer::Error on any malformed input, with a
// one-line message naming the file and the key, tensor or field and its bad value.
class File {
 public:
  explicit File(const std::string& path);

  const std::string& path() const { return mapped_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return mapped_.bytes().size(); }
  // Start of the tensor data section: the end of the tensor table, rounded up to
  // alignment(). It may lie past the end of a file that contains no tensors.
  uint64_t data_offset() const { return data_offset_; }

  // Metadata in file order, and lookup by key.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;

  // Typed getters: nullopt when the key is absent; Error when it has another type.
  // Integer getters accept any integer type whose value fits.
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;  // FLOAT32 or FLOAT64
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string_view> get_string(std::string_view key) const;
  const ArrayValue* get_array(std::string_view key) const;
  // Array getters: nullopt when the key is absent; Error when the value is not an array
  // of the matching element type. get_float_array accepts FLOAT32 and FLOAT64 elements;
  // get_int_array accepts any integer element type whose values fit in int64.
  std::optional<std::vector<std::string_view>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_float_array(std::string_view key) const;
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  MappedFile mapped_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::unordered_map<std::string, size_t> metadata_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace kvinfer::gguf
