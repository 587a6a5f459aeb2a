// Parsing and validation of GGUF files; gguf_file.h describes the layout.
// Every count, length and offset read from the file is checked against the bytes that
// remain before it sizes a read or an allocation. A malformed file therefore fails with
// a one-line Error instead of a crash or a huge allocation. This file does not check
// that the keys a model needs are present, because model/ and tokenizer/ do that.
#include "gguf/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <utility>

#include <fmt/ranges.h>

#include "util/checked_math.h"
#include "util/error.h"

namespace kvinfer::gguf {
namespace {

// Values are read in place from the mapping, and GGUF files are little-endian.
static_assert(std::endian::native == std::endian::little, "kvinfer reads GGUF files on little-endian hosts only");

constexpr std::array<uint8_t, 4> kMagic = {'G', 'G', 'U', 'F'};
constexpr uint32_t kMaxDims = 4;
constexpr ValueType kLastValueType = ValueType::FLOAT64;
constexpr std::string_view kAlignmentKey = "general.alignment";

// Smallest encodings of a metadata entry (key length, value type, a one-byte value), a
// tensor info (name length, n_dims, one dimension, type, offset) and a string. They
// bound counts read from the file before anything is allocated for them.
constexpr uint64_t kMinMetadataEntryBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
constexpr uint64_t kStringLengthBytes = 8;

// A count that fits in the file may still describe entries whose in-memory form is
// several times larger than their encoding, so reservations are capped as well.
// Vectors grow past the cap only as real entries are parsed.
constexpr uint64_t kMaxReserve = uint64_t{1} << 16;

uint64_t bounded_reserve(uint64_t count, uint64_t remaining_bytes, uint64_t min_entry_bytes) {
  return std::min({count, remaining_bytes / min_entry_bytes, kMaxReserve});
}

// Escapes control characters, quotes and backslashes, and shortens long text, so that a
// name taken from a malformed file keeps an error message on one readable line.
std::string quoted(std::string_view text) {
  constexpr size_t kMaxShown = 96;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += fmt::format("...' ({} bytes)", text.size());
  else out += '\'';
  return out;
}

// The field being read, for messages: a name and, inside arrays, an element index.
struct Field {
  std::string_view name;
  std::optional<uint64_t> index = std::nullopt;
};

std::string describe(Field field) {
  if (!field.index) return std::string(field.name);
  return fmt::format("{} {}", field.name, *field.index);
}

// Reads little-endian fields in order from the mapped bytes. Every read checks the
// bytes that remain first. Errors name the path, the current context (set by the
// caller: "header", "key 'general.name'", "tensor 'output.weight'") and the field.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  void set_context(std::string context) { context_ = std::move(context); }

  // Throws Error prefixed with the path and the current context.
  template <typename... Args>
  [[noreturn]] void reject(fmt::format_string<Args...> format, Args&&... args) const {
    fail("'{}': {}: {}", path_, context_, fmt::format(format, std::forward<Args>(args)...));
  }

  std::span<const uint8_t> read_bytes(uint64_t n_bytes, Field field) {
    if (n_bytes > remaining()) {
      reject("file is truncated in {}: {} bytes needed at offset {}, {} available", describe(field), n_bytes,
             pos_, remaining());
    }
    std::span<const uint8_t> span = bytes_.subspan(pos_, n_bytes);
    pos_ += n_bytes;
    return span;
  }

  template <typename T>
  T read(Field field) {
    T value;
    std::memcpy(&value, read_bytes(sizeof(T), field).data(), sizeof(T));
    return value;
  }

  // Reads a GGUF string: a u64 length, then that many bytes (UTF-8, no terminator).
  std::string_view read_string(Field field) {
    const uint64_t length = read<uint64_t>(field);
    if (length > remaining()) {
      reject("{} has length {}, more than the {} bytes left in the file", describe(field), length, remaining());
    }
    std::span<const uint8_t> span = read_bytes(length, field);
    return {reinterpret_cast<const char*>(span.data()), span.size()};
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& path_;
  std::string context_ = "header";
  uint64_t pos_ = 0;
};

struct Header {
  uint32_t version;
  uint64_t n_tensors;
  uint64_t n_kv;
};

// Reads magic, version and the two counts. Rejects version 1, whose lengths are 32-bit,
// and recognizes big-endian files by their byte-swapped version.
Header read_header(Cursor& cursor, const std::string& path) {
  if (cursor.remaining() < kMagic.size()) {
    fail("'{}' is not a GGUF file: it is {} bytes long, too short for the header", path, cursor.remaining());
  }
  std::span<const uint8_t> magic = cursor.read_bytes(kMagic.size(), {"magic"});
  if (!std::equal(magic.begin(), magic.end(), kMagic.begin())) {
    fail("'{}' is not a GGUF file: it starts with bytes {:02x} {:02x} {:02x} {:02x}, expected \"GGUF\"", path,
         magic[0], magic[1], magic[2], magic[3]);
  }

  Header header{};
  header.version = cursor.read<uint32_t>({"version"});
  const uint32_t swapped = __builtin_bswap32(header.version);
  if (swapped == 2 || swapped == 3) {
    fail("'{}': big-endian GGUF files are not supported (version field reads {:#x})", path, header.version);
  }
  if (header.version != 2 && header.version != 3) {
    fail("'{}': GGUF version {} is not supported, expected 2 or 3; convert the file with a current llama.cpp",
         path, header.version);
  }

  header.n_tensors = cursor.read<uint64_t>({"tensor_count"});
  header.n_kv = cursor.read<uint64_t>({"metadata_kv_count"});
  return header;
}

ValueType read_value_type(Cursor& cursor, Field field) {
  const uint32_t id = cursor.read<uint32_t>(field);
  if (id > static_cast<uint32_t>(kLastValueType)) cursor.reject("unknown {} id {}", field.name, id);
  return static_cast<ValueType>(id);
}

// Returns the encoded size of a fixed-size value type, or 0 for STRING and ARRAY.
uint64_t fixed_size(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL:
      return 1;
    case ValueType::UINT16:
    case ValueType::INT16:
      return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32:
      return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
      return 8;
    case ValueType::STRING:
    case ValueType::ARRAY:
      return 0;
  }
  return 0;
}

// The GGUF spec (ggml docs/gguf.md) allows only 0 and 1 in a bool and calls any other
// byte invalid.
void check_bool(Cursor& cursor, uint8_t byte, Field field) {
  if (byte > 1) cursor.reject("{} is {}, expected 0 or 1 for a bool", describe(field), byte);
}

std::vector<std::string_view> read_string_elements(Cursor& cursor, uint64_t n_elements) {
  if (n_elements > cursor.remaining() / kStringLengthBytes) {
    cursor.reject("array of {} strings needs at least {} bytes each, but only {} bytes are left", n_elements,
                  kStringLengthBytes, cursor.remaining());
  }

  std::vector<std::string_view> strings;
  strings.reserve(bounded_reserve(n_elements, cursor.remaining(), kStringLengthBytes));
  for (uint64_t i = 0; i < n_elements; ++i) strings.push_back(cursor.read_string({"element", i}));
  return strings;
}

ArrayValue read_array(Cursor& cursor) {
  ArrayValue array{};
  array.element_type = read_value_type(cursor, {"array element type"});
  if (array.element_type == ValueType::ARRAY) cursor.reject("nested arrays are not supported");
  array.n_elements = cursor.read<uint64_t>({"array length"});

  if (array.element_type == ValueType::STRING) {
    array.strings = read_string_elements(cursor, array.n_elements);
    return array;
  }

  const uint64_t element_size = fixed_size(array.element_type);
  const std::optional<uint64_t> n_bytes = checked_mul(array.n_elements, element_size);
  if (!n_bytes || *n_bytes > cursor.remaining()) {
    cursor.reject("array of {} {} elements is larger than the {} bytes left in the file", array.n_elements,
                  value_type_name(array.element_type), cursor.remaining());
  }
  array.raw = cursor.read_bytes(*n_bytes, {"array elements"});

  if (array.element_type == ValueType::BOOL) {
    for (uint64_t i = 0; i < array.n_elements; ++i) check_bool(cursor, array.raw[i], {"element", i});
  }
  return array;
}

Value read_value(Cursor& cursor, ValueType type) {
  const Field field{"value"};
  switch (type) {
    case ValueType::UINT8: return {type, uint64_t{cursor.read<uint8_t>(field)}};
    case ValueType::INT8: return {type, int64_t{cursor.read<int8_t>(field)}};
    case ValueType::UINT16: return {type, uint64_t{cursor.read<uint16_t>(field)}};
    case ValueType::INT16: return {type, int64_t{cursor.read<int16_t>(field)}};
    case ValueType::UINT32: return {type, uint64_t{cursor.read<uint32_t>(field)}};
    case ValueType::INT32: return {type, int64_t{cursor.read<int32_t>(field)}};
    case ValueType::UINT64: return {type, cursor.read<uint64_t>(field)};
    case ValueType::INT64: return {type, cursor.read<int64_t>(field)};
    case ValueType::FLOAT32: return {type, double{cursor.read<float>(field)}};
    case ValueType::FLOAT64: return {type, cursor.read<double>(field)};
    case ValueType::BOOL: {
      const uint8_t byte = cursor.read<uint8_t>(field);
      check_bool(cursor, byte, field);
      return {type, byte == 1};
    }
    case ValueType::STRING: return {type, cursor.read_string(field)};
    case ValueType::ARRAY: return {type, read_array(cursor)};
  }
  cursor.reject("unknown value type id {}", static_cast<uint32_t>(type));
}

using Metadata = std::vector<std::pair<std::string, Value>>;
using NameIndex = std::unordered_map<std::string, size_t>;

void read_metadata(Cursor& cursor, uint64_t n_kv, Metadata& metadata, NameIndex& index) {
  if (n_kv > cursor.remaining() / kMinMetadataEntryBytes) {
    cursor.reject("metadata_kv_count {} is larger than the {} bytes left in the file can hold", n_kv,
                  cursor.remaining());
  }
  metadata.reserve(bounded_reserve(n_kv, cursor.remaining(), kMinMetadataEntryBytes));
  index.reserve(bounded_reserve(n_kv, cursor.remaining(), kMinMetadataEntryBytes));

  for (uint64_t i = 0; i < n_kv; ++i) {
    cursor.set_context(fmt::format("metadata entry {}", i));
    const std::string_view key = cursor.read_string({"key"});

    cursor.set_context(fmt::format("key {}", quoted(key)));
    const auto [it, inserted] = index.emplace(std::string(key), metadata.size());
    if (!inserted) cursor.reject("duplicate key, first defined by metadata entry {}", it->second);

    const ValueType type = read_value_type(cursor, {"value type"});
    metadata.emplace_back(std::string(key), read_value(cursor, type));
  }
}

// Reads one tensor info and derives its element count and size in bytes. The offset
// is checked later, once the data section's start is known.
TensorInfo read_tensor_info(Cursor& cursor, uint64_t tensor_idx) {
  cursor.set_context(fmt::format("tensor {}", tensor_idx));
  TensorInfo info{};
  info.name = std::string(cursor.read_string({"name"}));
  cursor.set_context(fmt::format("tensor {}", quoted(info.name)));

  info.n_dims = cursor.read<uint32_t>({"n_dims"});
  if (info.n_dims == 0 || info.n_dims > kMaxDims) {
    cursor.reject("n_dims is {}, expected 1 to {}", info.n_dims, kMaxDims);
  }
  info.dims.fill(1);
  for (uint32_t d = 0; d < info.n_dims; ++d) {
    info.dims[d] = cursor.read<uint64_t>({"dimension", d});
    if (info.dims[d] == 0) cursor.reject("dimension {} is 0", d);
  }

  const uint32_t type_id = cursor.read<uint32_t>({"type"});
  const std::optional<DTypeTraits> traits = dtype_traits(type_id);
  if (!traits) cursor.reject("unknown tensor type id {}", type_id);
  info.type = static_cast<DType>(type_id);
  info.offset = cursor.read<uint64_t>({"offset"});

  // ggml counts elements in int64, so larger products are rejected too.
  std::optional<uint64_t> n_elements = 1;
  for (uint32_t d = 0; d < info.n_dims && n_elements; ++d) n_elements = checked_mul(*n_elements, info.dims[d]);
  const auto shown_dims = std::span(info.dims).first(info.n_dims);
  if (!n_elements || *n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    cursor.reject("element count of dims [{}] overflows int64", fmt::join(shown_dims, ", "));
  }
  info.n_elements = *n_elements;

  if (info.dims[0] % traits->block_elements != 0) {
    cursor.reject("row length {} (dims[0]) is not a multiple of the {} block size {}", info.dims[0], traits->name,
                  traits->block_elements);
  }
  const std::optional<uint64_t> row_bytes = checked_mul(info.dims[0] / traits->block_elements, traits->block_bytes);
  const std::optional<uint64_t> n_bytes = row_bytes ? checked_mul(*row_bytes, info.n_rows()) : std::nullopt;
  if (!n_bytes) cursor.reject("size in bytes of dims [{}] overflows 64 bits", fmt::join(shown_dims, ", "));
  info.n_bytes = *n_bytes;
  return info;
}

void read_tensor_infos(Cursor& cursor, uint64_t n_tensors, std::vector<TensorInfo>& tensors, NameIndex& index) {
  cursor.set_context("header");
  if (n_tensors > cursor.remaining() / kMinTensorInfoBytes) {
    cursor.reject("tensor_count {} is larger than the {} bytes left in the file can hold", n_tensors,
                  cursor.remaining());
  }
  tensors.reserve(bounded_reserve(n_tensors, cursor.remaining(), kMinTensorInfoBytes));
  index.reserve(bounded_reserve(n_tensors, cursor.remaining(), kMinTensorInfoBytes));

  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo info = read_tensor_info(cursor, i);
    const auto [it, inserted] = index.emplace(info.name, tensors.size());
    if (!inserted) cursor.reject("duplicate tensor name, first defined by tensor {}", it->second);
    tensors.push_back(std::move(info));
  }
}

// Checks each tensor's offset alignment and extent, points it into the mapping, and
// checks that no two tensors share bytes. Tensors may be stored in any order.
void place_tensors(std::vector<TensorInfo>& tensors, std::span<const uint8_t> bytes, uint64_t data_offset,
                   uint64_t alignment, const std::string& path) {
  for (TensorInfo& info : tensors) {
    if (info.offset % alignment != 0) {
      fail("'{}': tensor {}: offset {} is not a multiple of the alignment {}", path, quoted(info.name), info.offset,
           alignment);
    }
    const std::optional<uint64_t> begin = checked_add(data_offset, info.offset);
    const std::optional<uint64_t> end = begin ? checked_add(*begin, info.n_bytes) : std::nullopt;
    if (!end || *end > bytes.size()) {
      fail("'{}': tensor {}: data of {} bytes at offset {} in the data section (which starts at {}) ends past the "
           "end of the file ({} bytes)",
           path, quoted(info.name), info.n_bytes, info.offset, data_offset, bytes.size());
    }
    info.data = bytes.data() + *begin;
  }

  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo& previous = tensors[order[i - 1]];
    const TensorInfo& current = tensors[order[i]];
    if (previous.offset + previous.n_bytes > current.offset) {
      fail("'{}': tensors {} (bytes [{}, {})) and {} (bytes [{}, {})) overlap in the data section", path,
           quoted(previous.name), previous.offset, previous.offset + previous.n_bytes, quoted(current.name),
           current.offset, current.offset + current.n_bytes);
    }
  }
}

template <typename T>
T load(const uint8_t* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

bool is_integer(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::UINT16:
    case ValueType::INT16:
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::UINT64:
    case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

std::string array_type_name(const ArrayValue& array) {
  return fmt::format("array of {}", value_type_name(array.element_type));
}

std::string type_name(const Value& value) {
  if (const auto* array = std::get_if<ArrayValue>(&value.data)) return array_type_name(*array);
  return std::string(value_type_name(value.type));
}

}  // namespace

Value element_at(const ArrayValue& array, uint64_t index) {
  if (index >= array.n_elements) {
    throw std::out_of_range(fmt::format("array element index {} is out of range for {} elements", index,
                                        array.n_elements));
  }
  const ValueType type = array.element_type;
  if (type == ValueType::STRING) return {type, array.strings[index]};

  const uint8_t* at = array.raw.data() + index * fixed_size(type);
  switch (type) {
    case ValueType::UINT8: return {type, uint64_t{load<uint8_t>(at)}};
    case ValueType::INT8: return {type, int64_t{load<int8_t>(at)}};
    case ValueType::UINT16: return {type, uint64_t{load<uint16_t>(at)}};
    case ValueType::INT16: return {type, int64_t{load<int16_t>(at)}};
    case ValueType::UINT32: return {type, uint64_t{load<uint32_t>(at)}};
    case ValueType::INT32: return {type, int64_t{load<int32_t>(at)}};
    case ValueType::UINT64: return {type, load<uint64_t>(at)};
    case ValueType::INT64: return {type, load<int64_t>(at)};
    case ValueType::FLOAT32: return {type, double{load<float>(at)}};
    case ValueType::FLOAT64: return {type, load<double>(at)};
    case ValueType::BOOL: return {type, load<uint8_t>(at) == 1};
    case ValueType::STRING:
    case ValueType::ARRAY:
      break;
  }
  // The reader rejects nested arrays, so no ArrayValue contains ARRAY elements.
  throw std::logic_error("element_at called on an array of arrays");
}

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

File::File(const std::string& path) : mapped_(path) {
  Cursor cursor(mapped_.bytes(), path);
  const Header header = read_header(cursor, path);
  version_ = header.version;
  read_metadata(cursor, header.n_kv, metadata_, metadata_index_);

  // Alignment must be known before the data section's start can be computed.
  if (const Value* value = find(kAlignmentKey)) {
    if (value->type != ValueType::UINT32) {
      fail("'{}': key '{}' has type {}, expected uint32", path, kAlignmentKey, type_name(*value));
    }
    alignment_ = std::get<uint64_t>(value->data);
    if (!std::has_single_bit(alignment_)) {
      fail("'{}': key '{}': value {} is not a power of two", path, kAlignmentKey, alignment_);
    }
  }

  read_tensor_infos(cursor, header.n_tensors, tensors_, tensor_index_);

  // Rounding up cannot overflow because the cursor is inside the file and the
  // alignment is below 2^32.
  data_offset_ = (cursor.pos() + alignment_ - 1) / alignment_ * alignment_;
  place_tensors(tensors_, mapped_.bytes(), data_offset_, alignment_, path);
}

const Value* File::find(std::string_view key) const {
  const auto it = metadata_index_.find(std::string(key));
  if (it == metadata_index_.end()) return nullptr;
  return &metadata_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(std::string(name));
  if (it == tensor_index_.end()) return nullptr;
  return &tensors_[it->second];
}

std::optional<uint64_t> File::get_uint(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (const auto* u = std::get_if<uint64_t>(&value->data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&value->data)) {
    if (*i < 0) fail("'{}': key {}: value {} is negative, expected an unsigned integer", path(), quoted(key), *i);
    return static_cast<uint64_t>(*i);
  }
  fail("'{}': key {} has type {}, expected an unsigned integer", path(), quoted(key), type_name(*value));
}

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (const auto* i = std::get_if<int64_t>(&value->data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&value->data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail("'{}': key {}: value {} does not fit in int64", path(), quoted(key), *u);
    }
    return static_cast<int64_t>(*u);
  }
  fail("'{}': key {} has type {}, expected an integer", path(), quoted(key), type_name(*value));
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (const auto* d = std::get_if<double>(&value->data)) return *d;
  fail("'{}': key {} has type {}, expected float32 or float64", path(), quoted(key), type_name(*value));
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (const auto* b = std::get_if<bool>(&value->data)) return *b;
  fail("'{}': key {} has type {}, expected bool", path(), quoted(key), type_name(*value));
}

std::optional<std::string_view> File::get_string(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (const auto* s = std::get_if<std::string_view>(&value->data)) return *s;
  fail("'{}': key {} has type {}, expected string", path(), quoted(key), type_name(*value));
}

const ArrayValue* File::get_array(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr) return nullptr;
  if (const auto* array = std::get_if<ArrayValue>(&value->data)) return array;
  fail("'{}': key {} has type {}, expected an array", path(), quoted(key), type_name(*value));
}

std::optional<std::vector<std::string_view>> File::get_string_array(std::string_view key) const {
  const ArrayValue* array = get_array(key);
  if (array == nullptr) return std::nullopt;
  if (array->element_type != ValueType::STRING) {
    fail("'{}': key {} has type {}, expected an array of string", path(), quoted(key), array_type_name(*array));
  }
  return array->strings;
}

std::optional<std::vector<float>> File::get_float_array(std::string_view key) const {
  const ArrayValue* array = get_array(key);
  if (array == nullptr) return std::nullopt;
  if (array->element_type != ValueType::FLOAT32 && array->element_type != ValueType::FLOAT64) {
    fail("'{}': key {} has type {}, expected an array of float32 or float64", path(), quoted(key),
         array_type_name(*array));
  }

  std::vector<float> values;
  values.reserve(array->n_elements);  // the elements were read from the file, so the count is real
  for (uint64_t i = 0; i < array->n_elements; ++i) {
    values.push_back(static_cast<float>(std::get<double>(element_at(*array, i).data)));
  }
  return values;
}

std::optional<std::vector<int64_t>> File::get_int_array(std::string_view key) const {
  const ArrayValue* array = get_array(key);
  if (array == nullptr) return std::nullopt;
  if (!is_integer(array->element_type)) {
    fail("'{}': key {} has type {}, expected an array of integers", path(), quoted(key), array_type_name(*array));
  }

  std::vector<int64_t> values;
  values.reserve(array->n_elements);  // the elements were read from the file, so the count is real
  for (uint64_t i = 0; i < array->n_elements; ++i) {
    const Value element = element_at(*array, i);
    if (const auto* u = std::get_if<uint64_t>(&element.data)) {
      if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail("'{}': key {}: element {} does not fit in int64", path(), quoted(key), i);
      }
      values.push_back(static_cast<int64_t>(*u));
    } else {
      values.push_back(std::get<int64_t>(element.data));
    }
  }
  return values;
}

}  // namespace kvinfer::gguf
