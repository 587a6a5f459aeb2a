// Tests for the GGUF reader. Valid version 2 and 3 files are built byte by byte, and
// every class of malformed input must be rejected with a message naming the key or
// tensor and the bad value. The typed getters and the default model (when present)
// are checked too.
#include "gguf/gguf_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "util/error.h"

namespace kvinfer::gguf {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint32_t kF32 = 0;
constexpr uint32_t kF16 = 1;
constexpr uint32_t kQ4_1 = 3;
constexpr uint32_t kQ8_0 = 8;

// Writes GGUF files field by field, in little-endian order.
class GgufBuilder {
 public:
  template <typename T>
  GgufBuilder& put(T value) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &value, sizeof(T));
    return *this;
  }

  GgufBuilder& text(std::string_view text) {
    put<uint64_t>(text.size());
    bytes_.insert(bytes_.end(), text.begin(), text.end());
    return *this;
  }

  GgufBuilder& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    bytes_.insert(bytes_.end(), {'G', 'G', 'U', 'F'});
    return put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }

  // Writes the key and value type of a metadata entry. The caller writes the value.
  GgufBuilder& key(std::string_view key, ValueType type) {
    return text(key).put<uint32_t>(static_cast<uint32_t>(type));
  }

  GgufBuilder& kv_u32(std::string_view name, uint32_t value) { return key(name, ValueType::UINT32).put(value); }

  GgufBuilder& kv_string(std::string_view name, std::string_view value) {
    return key(name, ValueType::STRING).text(value);
  }

  GgufBuilder& array_header(std::string_view name, ValueType element_type, uint64_t n_elements) {
    key(name, ValueType::ARRAY).put<uint32_t>(static_cast<uint32_t>(element_type));
    return put<uint64_t>(n_elements);
  }

  GgufBuilder& tensor_info(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    text(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (uint64_t dim : dims) put<uint64_t>(dim);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }

  // Pads with zeros to the next multiple of `alignment` and returns the new size.
  size_t pad_to(size_t alignment) {
    bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment, 0);
    return bytes_.size();
  }

  // Pads with zeros up to `data_offset + offset`, then appends `n_bytes` bytes of
  // `value`. Calls must come in increasing offset order.
  GgufBuilder& data_at(size_t data_offset, uint64_t offset, size_t n_bytes, uint8_t value) {
    EXPECT_LE(bytes_.size(), data_offset + offset) << "data_at calls out of offset order";
    bytes_.resize(data_offset + offset, 0);
    bytes_.insert(bytes_.end(), n_bytes, value);
    return *this;
  }

  GgufBuilder& zeros(size_t n_bytes) {
    bytes_.insert(bytes_.end(), n_bytes, 0);
    return *this;
  }

  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Writes `bytes` to a file named after the running test in the test temp dir.
std::string write_file(const std::vector<uint8_t>& bytes, std::string_view suffix = "") {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                                     (std::string("gguf_") + test->name() + std::string(suffix) + ".gguf");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

// Calls `action` and returns the message of the Error it throws, or "" when it succeeds.
template <typename Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Opens `bytes` as a GGUF file and returns the error message, or "" when it loads.
std::string load_error(const std::vector<uint8_t>& bytes) {
  const std::string path = write_file(bytes);
  return error_of([&] { File file(path); });
}

// A file with one F32 tensor "w" of dims `dims`, after `n_kv` entries written by `add_kv`.
template <typename AddKv>
std::vector<uint8_t> one_tensor_file_with_kv(uint64_t n_kv, AddKv add_kv, std::vector<uint64_t> dims = {8},
                                     uint32_t type = kF32, uint64_t offset = 0) {
  GgufBuilder builder;
  builder.header(3, 1, n_kv);
  add_kv(builder);
  builder.tensor_info("w", dims, type, offset);
  builder.pad_to(32);
  builder.zeros(64);
  return builder.bytes();
}

std::vector<uint8_t> one_tensor_file(std::vector<uint64_t> dims, uint32_t type = kF32, uint64_t offset = 0) {
  return one_tensor_file_with_kv(0, [](GgufBuilder&) {}, std::move(dims), type, offset);
}

// Writes one metadata entry of every value type and a few arrays.
void add_all_value_types(GgufBuilder& builder) {
  builder.kv_string("general.architecture", "llama");
  builder.key("t.u8", ValueType::UINT8).put<uint8_t>(200);
  builder.key("t.i8", ValueType::INT8).put<int8_t>(-100);
  builder.key("t.u16", ValueType::UINT16).put<uint16_t>(60000);
  builder.key("t.i16", ValueType::INT16).put<int16_t>(-30000);
  builder.kv_u32("t.u32", 4000000000u);
  builder.key("t.i32", ValueType::INT32).put<int32_t>(-2000000000);
  builder.key("t.f32", ValueType::FLOAT32).put<float>(0.5f);
  builder.key("t.bool", ValueType::BOOL).put<uint8_t>(1);
  builder.key("t.u64", ValueType::UINT64).put<uint64_t>(std::numeric_limits<uint64_t>::max());
  builder.key("t.i64", ValueType::INT64).put<int64_t>(std::numeric_limits<int64_t>::min());
  builder.key("t.f64", ValueType::FLOAT64).put<double>(-2.25);
  builder.array_header("t.strings", ValueType::STRING, 3).text("<s>").text("").text("h\xc3\xa9llo");
  builder.array_header("t.i32s", ValueType::INT32, 3).put<int32_t>(-1).put<int32_t>(0).put<int32_t>(7);
  builder.array_header("t.f32s", ValueType::FLOAT32, 2).put<float>(1.5f).put<float>(-3.0f);
  builder.array_header("t.f64s", ValueType::FLOAT64, 1).put<double>(0.25);
  builder.array_header("t.bools", ValueType::BOOL, 2).put<uint8_t>(0).put<uint8_t>(1);
  builder.array_header("t.empty", ValueType::UINT8, 0);
}
constexpr uint64_t kAllValueTypesCount = 18;

// A valid file with every value type and three tensors stored out of order, each
// filled with its own byte value:
//   a: F32 [4, 2] = 32 bytes of 0xaa at offset `alignment`,
//   b: Q8_0 [32] = one 34-byte block of 0xbb at offset 2 * `alignment`,
//   c: F16 [3] = 6 bytes of 0xcc at offset 0.
struct ValidFile {
  std::vector<uint8_t> bytes;
  size_t data_offset;
};

ValidFile build_valid_file(uint32_t version, uint32_t alignment) {
  GgufBuilder builder;
  const bool custom_alignment = alignment != 32;
  builder.header(version, 3, kAllValueTypesCount + (custom_alignment ? 1 : 0));
  add_all_value_types(builder);
  if (custom_alignment) builder.kv_u32("general.alignment", alignment);

  builder.tensor_info("a", {4, 2}, kF32, alignment);
  builder.tensor_info("b", {32}, kQ8_0, 2 * alignment);
  builder.tensor_info("c", {3}, kF16, 0);
  const size_t data_offset = builder.pad_to(alignment);
  builder.data_at(data_offset, 0, 6, 0xcc);
  builder.data_at(data_offset, alignment, 32, 0xaa);
  builder.data_at(data_offset, 2 * alignment, 34, 0xbb);
  return {builder.bytes(), data_offset};
}

// Checks everything File reads back from build_valid_file(version, alignment).
void check_valid_file(uint32_t version, uint32_t alignment) {
  const auto [bytes, data_offset] = build_valid_file(version, alignment);
  const bool custom_alignment = alignment != 32;
  const std::string path = write_file(bytes);

  File file(path);
  EXPECT_EQ(file.version(), version);
  EXPECT_EQ(file.alignment(), alignment);
  EXPECT_EQ(file.data_offset(), data_offset);
  EXPECT_EQ(file.file_size(), bytes.size());
  EXPECT_EQ(file.metadata().size(), kAllValueTypesCount + (custom_alignment ? 1 : 0));
  EXPECT_EQ(file.metadata()[0].first, "general.architecture");
  ASSERT_EQ(file.tensors().size(), 3u);

  const TensorInfo* a = file.find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type, DType::F32);
  EXPECT_EQ(a->n_dims, 2u);
  EXPECT_EQ(a->dims, (std::array<uint64_t, 4>{4, 2, 1, 1}));
  EXPECT_EQ(a->n_elements, 8u);
  EXPECT_EQ(a->n_bytes, 32u);
  EXPECT_EQ(a->n_rows(), 2u);
  EXPECT_EQ(a->row_bytes(), 16u);
  EXPECT_EQ(a->offset, alignment);

  const TensorInfo* b = file.find_tensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, DType::Q8_0);
  EXPECT_EQ(b->n_bytes, 34u);

  const TensorInfo* c = file.find_tensor("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->type, DType::F16);
  EXPECT_EQ(c->n_bytes, 6u);
  EXPECT_EQ(file.find_tensor("d"), nullptr);

  // Each data pointer lands on its tensor's bytes in the mapping.
  for (const auto& [info, fill] : {std::pair{a, 0xaa}, std::pair{b, 0xbb}, std::pair{c, 0xcc}}) {
    SCOPED_TRACE(info->name);
    EXPECT_EQ(info->data - c->data, static_cast<ptrdiff_t>(info->offset));
    EXPECT_EQ(info->data[0], fill);
    EXPECT_EQ(info->data[info->n_bytes - 1], fill);
    EXPECT_EQ(std::memcmp(info->data, bytes.data() + data_offset + info->offset, info->n_bytes), 0);
  }
}

TEST(GgufFile, ReadsVersion2) { check_valid_file(2, 32); }

TEST(GgufFile, ReadsVersion3) { check_valid_file(3, 32); }

TEST(GgufFile, ReadsCustomAlignment) { check_valid_file(3, 64); }

// Every prefix of a valid file, and every single-byte change to its header, metadata
// and tensor table, must load or fail with Error. Nothing may crash or throw another
// exception type.
TEST(GgufFile, SurvivesTruncationAtEveryByte) {
  const std::vector<uint8_t> bytes = build_valid_file(3, 32).bytes;
  for (size_t size = 0; size < bytes.size(); ++size) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(size));
    const std::string message = load_error(prefix);
    EXPECT_NE(message, "") << "a prefix of " << size << " bytes loaded";
  }
}

TEST(GgufFile, SurvivesSingleByteChanges) {
  const auto [bytes, data_offset] = build_valid_file(3, 32);
  for (size_t at = 0; at < data_offset; ++at) {
    for (const uint8_t value : {uint8_t{0x00}, uint8_t{0x01}, uint8_t{0x7f}, uint8_t{0xff}}) {
      std::vector<uint8_t> changed = bytes;
      changed[at] = value;
      try {
        File file(write_file(changed));
      } catch (const Error&) {
        // Rejection with a message is the expected outcome for most changes.
      } catch (const std::exception& e) {
        ADD_FAILURE() << "byte " << at << " set to " << int{value} << " threw a non-Error: " << e.what();
      }
    }
  }
}

TEST(GgufFile, ReadsEveryValueType) {
  GgufBuilder builder;
  builder.header(3, 0, kAllValueTypesCount);
  add_all_value_types(builder);
  File file(write_file(builder.bytes()));

  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_EQ(file.get_uint("t.u8"), 200u);
  EXPECT_EQ(file.get_int("t.i8"), -100);
  EXPECT_EQ(file.get_uint("t.u16"), 60000u);
  EXPECT_EQ(file.get_int("t.i16"), -30000);
  EXPECT_EQ(file.get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(file.get_int("t.u32"), 4000000000);
  EXPECT_EQ(file.get_int("t.i32"), -2000000000);
  EXPECT_EQ(file.get_float("t.f32"), 0.5);
  EXPECT_EQ(file.get_bool("t.bool"), true);
  EXPECT_EQ(file.get_uint("t.u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(file.get_int("t.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(file.get_float("t.f64"), -2.25);

  EXPECT_EQ(file.find("t.u8")->type, ValueType::UINT8);
  EXPECT_EQ(file.find("t.f32")->type, ValueType::FLOAT32);
  EXPECT_EQ(file.find("absent"), nullptr);
  EXPECT_EQ(file.get_uint("absent"), std::nullopt);
  EXPECT_EQ(file.get_string("absent"), std::nullopt);
  EXPECT_EQ(file.get_array("absent"), nullptr);
  EXPECT_EQ(file.get_int_array("absent"), std::nullopt);
}

TEST(GgufFile, ReadsArrays) {
  GgufBuilder builder;
  builder.header(3, 0, kAllValueTypesCount);
  add_all_value_types(builder);
  File file(write_file(builder.bytes()));

  EXPECT_EQ(file.get_string_array("t.strings"), (std::vector<std::string_view>{"<s>", "", "h\xc3\xa9llo"}));
  EXPECT_EQ(file.get_int_array("t.i32s"), (std::vector<int64_t>{-1, 0, 7}));
  EXPECT_EQ(file.get_float_array("t.f32s"), (std::vector<float>{1.5f, -3.0f}));
  EXPECT_EQ(file.get_float_array("t.f64s"), (std::vector<float>{0.25f}));
  EXPECT_EQ(file.get_int_array("t.empty"), (std::vector<int64_t>{}));

  const ArrayValue* bools = file.get_array("t.bools");
  ASSERT_NE(bools, nullptr);
  EXPECT_EQ(bools->element_type, ValueType::BOOL);
  EXPECT_EQ(bools->n_elements, 2u);
  EXPECT_EQ(bools->raw.size(), 2u);
  EXPECT_EQ(bools->raw[1], 1);

  const ArrayValue* strings = file.get_array("t.strings");
  ASSERT_NE(strings, nullptr);
  EXPECT_EQ(strings->element_type, ValueType::STRING);
  EXPECT_EQ(strings->n_elements, 3u);
}

TEST(GgufFile, ElementAtWidensElements) {
  GgufBuilder builder;
  builder.header(3, 0, kAllValueTypesCount);
  add_all_value_types(builder);
  File file(write_file(builder.bytes()));

  const Value token = element_at(*file.get_array("t.strings"), 2);
  EXPECT_EQ(token.type, ValueType::STRING);
  EXPECT_EQ(std::get<std::string_view>(token.data), "h\xc3\xa9llo");

  const Value id = element_at(*file.get_array("t.i32s"), 0);
  EXPECT_EQ(id.type, ValueType::INT32);
  EXPECT_EQ(std::get<int64_t>(id.data), -1);

  const Value score = element_at(*file.get_array("t.f32s"), 1);
  EXPECT_EQ(score.type, ValueType::FLOAT32);
  EXPECT_EQ(std::get<double>(score.data), -3.0);

  const Value flag = element_at(*file.get_array("t.bools"), 1);
  EXPECT_EQ(flag.type, ValueType::BOOL);
  EXPECT_EQ(std::get<bool>(flag.data), true);

  EXPECT_THROW(element_at(*file.get_array("t.i32s"), 3), std::out_of_range);
  EXPECT_THROW(element_at(*file.get_array("t.empty"), 0), std::out_of_range);
}

TEST(GgufFile, GetterRejectsWrongType) {
  GgufBuilder builder;
  builder.header(3, 0, kAllValueTypesCount);
  add_all_value_types(builder);
  const std::string path = write_file(builder.bytes());
  File file(path);

  EXPECT_THAT(error_of([&] { file.get_string("t.u32"); }), HasSubstr("key 't.u32' has type uint32, expected string"));
  EXPECT_THAT(error_of([&] { file.get_string("t.u32"); }), HasSubstr(path));
  EXPECT_THAT(error_of([&] { file.get_uint("t.i8"); }), HasSubstr("key 't.i8': value -100 is negative"));
  EXPECT_THAT(error_of([&] { file.get_int("t.u64"); }),
              HasSubstr("key 't.u64': value 18446744073709551615 does not fit in int64"));
  EXPECT_THAT(error_of([&] { file.get_float("t.i32"); }), HasSubstr("key 't.i32' has type int32, expected float"));
  EXPECT_THAT(error_of([&] { file.get_bool("t.u8"); }), HasSubstr("key 't.u8' has type uint8, expected bool"));
  EXPECT_THAT(error_of([&] { file.get_array("t.f64"); }), HasSubstr("key 't.f64' has type float64, expected an array"));
  EXPECT_THAT(error_of([&] { file.get_uint("t.strings"); }), HasSubstr("has type array of string"));
  EXPECT_THAT(error_of([&] { file.get_string_array("t.i32s"); }),
              HasSubstr("key 't.i32s' has type array of int32, expected an array of string"));
  EXPECT_THAT(error_of([&] { file.get_float_array("t.i32s"); }),
              HasSubstr("key 't.i32s' has type array of int32, expected an array of float32 or float64"));
  EXPECT_THAT(error_of([&] { file.get_int_array("t.f32s"); }),
              HasSubstr("key 't.f32s' has type array of float32, expected an array of integers"));
}

TEST(GgufFile, IntArrayRejectsHugeUint64) {
  GgufBuilder builder;
  builder.header(3, 0, 1);
  builder.array_header("big", ValueType::UINT64, 2).put<uint64_t>(1).put<uint64_t>(uint64_t{1} << 63);
  File file(write_file(builder.bytes()));
  EXPECT_THAT(error_of([&] { file.get_int_array("big"); }), HasSubstr("key 'big': element 1 does not fit in int64"));
}

TEST(GgufFile, ReadsFileWithoutTensors) {
  GgufBuilder builder;
  builder.header(3, 0, 1).kv_string("general.name", "x");
  File file(write_file(builder.bytes()));
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_EQ(file.metadata().size(), 1u);
}

// ---- header ----

TEST(GgufFile, RejectsMissingFile) {
  const std::string path = ::testing::TempDir() + "/gguf_does_not_exist.gguf";
  EXPECT_THAT(error_of([&] { File file(path); }), HasSubstr("gguf_does_not_exist.gguf"));
}

TEST(GgufFile, RejectsEmptyFile) {
  const std::string message = load_error({});
  EXPECT_THAT(message, HasSubstr("is not a GGUF file"));
  EXPECT_THAT(message, HasSubstr("0 bytes long"));
}

TEST(GgufFile, RejectsBadMagic) {
  GgufBuilder builder;
  builder.header(3, 0, 0);
  std::vector<uint8_t> bytes = builder.bytes();
  bytes[3] = 'X';
  const std::string message = load_error(bytes);
  EXPECT_THAT(message, HasSubstr("is not a GGUF file"));
  EXPECT_THAT(message, HasSubstr("47 47 55 58"));
  EXPECT_THAT(message, HasSubstr("gguf_RejectsBadMagic.gguf"));
}

TEST(GgufFile, RejectsVersion1) {
  GgufBuilder builder;
  builder.header(1, 0, 0);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("GGUF version 1 is not supported"));
}

TEST(GgufFile, RejectsVersion4) {
  GgufBuilder builder;
  builder.header(4, 0, 0);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("GGUF version 4 is not supported"));
}

TEST(GgufFile, RejectsBigEndianFile) {
  GgufBuilder builder;
  builder.header(__builtin_bswap32(3), 0, 0);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("big-endian GGUF files are not supported"));
}

TEST(GgufFile, RejectsTruncatedHeader) {
  GgufBuilder builder;
  builder.header(3, 0, 0);
  std::vector<uint8_t> bytes = builder.bytes();
  bytes.resize(12);
  const std::string message = load_error(bytes);
  EXPECT_THAT(message, HasSubstr("header: file is truncated in tensor_count"));
  EXPECT_THAT(message, HasSubstr("8 bytes needed at offset 8, 4 available"));
}

TEST(GgufFile, RejectsHugeKvCount) {
  GgufBuilder builder;
  builder.header(3, 0, uint64_t{1} << 60).kv_u32("a", 1);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("metadata_kv_count 1152921504606846976 is larger than"));
}

TEST(GgufFile, RejectsHugeTensorCount) {
  GgufBuilder builder;
  builder.header(3, uint64_t{1} << 60, 0).tensor_info("w", {8}, kF32, 0);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("tensor_count 1152921504606846976 is larger than"));
}

// ---- metadata ----

TEST(GgufFile, RejectsTruncatedValue) {
  GgufBuilder builder;
  builder.header(3, 0, 1).key("general.size", ValueType::UINT64).put<uint16_t>(7);
  const std::string message = load_error(builder.bytes());
  EXPECT_THAT(message, HasSubstr("key 'general.size': file is truncated in value"));
  EXPECT_THAT(message, HasSubstr("8 bytes needed"));
}

TEST(GgufFile, RejectsTruncatedKey) {
  GgufBuilder builder;
  builder.header(3, 0, 2).kv_u32("a", 1).put<uint64_t>(20).put<uint32_t>(0).zeros(8);
  const std::string message = load_error(builder.bytes());
  EXPECT_THAT(message, HasSubstr("metadata entry 1: key has length 20, more than the 12 bytes left"));
}

TEST(GgufFile, RejectsHugeKeyLength) {
  GgufBuilder builder;
  builder.header(3, 0, 1).put<uint64_t>(uint64_t{1} << 62).zeros(16);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("metadata entry 0: key has length 4611686018427387904"));
}

TEST(GgufFile, RejectsHugeStringValue) {
  GgufBuilder builder;
  builder.header(3, 0, 1).key("general.name", ValueType::STRING).put<uint64_t>(uint64_t{1} << 62).zeros(16);
  const std::string message = load_error(builder.bytes());
  EXPECT_THAT(message, HasSubstr("key 'general.name': value has length 4611686018427387904"));
  EXPECT_THAT(message, HasSubstr("more than the 16 bytes left"));
}

TEST(GgufFile, RejectsHugeNumericArray) {
  GgufBuilder builder;
  builder.header(3, 0, 1).array_header("scores", ValueType::FLOAT32, uint64_t{1} << 40).zeros(16);
  EXPECT_THAT(load_error(builder.bytes()),
              HasSubstr("key 'scores': array of 1099511627776 float32 elements is larger than the 16 bytes"));
}

TEST(GgufFile, RejectsOverflowingArraySize) {
  // 2^62 elements of 8 bytes overflow 64 bits when multiplied.
  GgufBuilder builder;
  builder.header(3, 0, 1).array_header("ids", ValueType::UINT64, uint64_t{1} << 62).zeros(16);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'ids': array of 4611686018427387904 uint64 elements"));
}

TEST(GgufFile, RejectsHugeStringArray) {
  GgufBuilder builder;
  builder.header(3, 0, 1).array_header("tokens", ValueType::STRING, uint64_t{1} << 60).text("a");
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'tokens': array of 1152921504606846976 strings"));
}

TEST(GgufFile, RejectsTruncatedStringElement) {
  GgufBuilder builder;
  builder.header(3, 0, 1).array_header("tokens", ValueType::STRING, 3).text("a").text("b").put<uint64_t>(100);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'tokens': element 2 has length 100"));
}

TEST(GgufFile, RejectsUnknownValueType) {
  GgufBuilder builder;
  builder.header(3, 0, 1).text("odd.key").put<uint32_t>(13).zeros(8);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'odd.key': unknown value type id 13"));
}

TEST(GgufFile, RejectsUnknownArrayElementType) {
  GgufBuilder builder;
  builder.header(3, 0, 1).key("odd.array", ValueType::ARRAY).put<uint32_t>(99).put<uint64_t>(0);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'odd.array': unknown array element type id 99"));
}

TEST(GgufFile, RejectsNestedArray) {
  GgufBuilder builder;
  builder.header(3, 0, 1).array_header("nested", ValueType::ARRAY, 1).put<uint32_t>(4).put<uint64_t>(0);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'nested': nested arrays are not supported"));
}

TEST(GgufFile, RejectsInvalidBool) {
  GgufBuilder builder;
  builder.header(3, 0, 1).key("flag", ValueType::BOOL).put<uint8_t>(2);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'flag': value is 2, expected 0 or 1"));
}

TEST(GgufFile, RejectsInvalidBoolElement) {
  GgufBuilder builder;
  builder.header(3, 0, 1).array_header("flags", ValueType::BOOL, 3).put<uint8_t>(0).put<uint8_t>(1).put<uint8_t>(9);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'flags': element 2 is 9, expected 0 or 1"));
}

TEST(GgufFile, RejectsDuplicateKey) {
  GgufBuilder builder;
  builder.header(3, 0, 3).kv_u32("a", 1).kv_u32("b", 2).kv_u32("a", 3);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("key 'a': duplicate key, first defined by metadata entry 0"));
}

TEST(GgufFile, EscapesControlCharactersInNames) {
  GgufBuilder builder;
  builder.header(3, 0, 2).kv_u32("a\nb", 1).kv_u32("a\nb", 2);
  const std::string message = load_error(builder.bytes());
  EXPECT_THAT(message, HasSubstr("key 'a\\x0ab': duplicate key"));
  EXPECT_THAT(message, Not(HasSubstr("\n")));
}

// ---- alignment ----

TEST(GgufFile, RejectsAlignmentNotPowerOfTwo) {
  const auto bytes = one_tensor_file_with_kv(1, [](GgufBuilder& b) { b.kv_u32("general.alignment", 48); }, {8});
  EXPECT_THAT(load_error(bytes), HasSubstr("key 'general.alignment': value 48 is not a power of two"));
}

TEST(GgufFile, RejectsZeroAlignment) {
  const auto bytes = one_tensor_file_with_kv(1, [](GgufBuilder& b) { b.kv_u32("general.alignment", 0); }, {8});
  EXPECT_THAT(load_error(bytes), HasSubstr("key 'general.alignment': value 0 is not a power of two"));
}

TEST(GgufFile, RejectsAlignmentOfWrongType) {
  const auto bytes = one_tensor_file_with_kv(
      1, [](GgufBuilder& b) { b.key("general.alignment", ValueType::UINT64).put<uint64_t>(32); }, {8});
  EXPECT_THAT(load_error(bytes), HasSubstr("key 'general.alignment' has type uint64, expected uint32"));
}

// ---- tensor infos ----

TEST(GgufFile, RejectsZeroDimension) {
  EXPECT_THAT(load_error(one_tensor_file({8, 0})), HasSubstr("tensor 'w': dimension 1 is 0"));
}

TEST(GgufFile, RejectsZeroNDims) {
  EXPECT_THAT(load_error(one_tensor_file({})), HasSubstr("tensor 'w': n_dims is 0, expected 1 to 4"));
}

TEST(GgufFile, RejectsFiveNDims) {
  EXPECT_THAT(load_error(one_tensor_file({1, 1, 1, 1, 1})), HasSubstr("tensor 'w': n_dims is 5, expected 1 to 4"));
}

TEST(GgufFile, RejectsOverflowingElementCount) {
  EXPECT_THAT(load_error(one_tensor_file({uint64_t{1} << 32, uint64_t{1} << 32})),
              HasSubstr("tensor 'w': element count of dims [4294967296, 4294967296] overflows int64"));
  EXPECT_THAT(load_error(one_tensor_file({uint64_t{1} << 62, 2})),
              HasSubstr("tensor 'w': element count of dims [4611686018427387904, 2] overflows int64"));
}

TEST(GgufFile, RejectsOverflowingByteSize) {
  // 2^62 F32 elements fit in int64, but their 2^64 bytes do not fit in 64 bits.
  EXPECT_THAT(load_error(one_tensor_file({uint64_t{1} << 61, 2})),
              HasSubstr("tensor 'w': size in bytes of dims [2305843009213693952, 2] overflows 64 bits"));
}

TEST(GgufFile, RejectsRowNotMultipleOfBlock) {
  EXPECT_THAT(load_error(one_tensor_file({33, 2}, kQ4_1)),
              HasSubstr("tensor 'w': row length 33 (dims[0]) is not a multiple of the Q4_1 block size 32"));
}

TEST(GgufFile, RejectsUnknownTensorType) {
  EXPECT_THAT(load_error(one_tensor_file({8}, 4)), HasSubstr("tensor 'w': unknown tensor type id 4"));
  EXPECT_THAT(load_error(one_tensor_file({8}, 1000)), HasSubstr("tensor 'w': unknown tensor type id 1000"));
}

TEST(GgufFile, RejectsTruncatedTensorInfo) {
  GgufBuilder builder;
  builder.header(3, 1, 0).text("w").put<uint32_t>(2).put<uint64_t>(8).put<uint64_t>(8).put<uint32_t>(kF32);
  const std::string message = load_error(builder.bytes());
  EXPECT_THAT(message, HasSubstr("tensor 'w': file is truncated in offset"));
}

TEST(GgufFile, RejectsTruncatedTensorName) {
  GgufBuilder builder;
  builder.header(3, 2, 0).tensor_info("w", {8}, kF32, 0).put<uint64_t>(50).zeros(30);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("tensor 1: name has length 50, more than the 30 bytes left"));
}

TEST(GgufFile, RejectsDuplicateTensorName) {
  GgufBuilder builder;
  builder.header(3, 2, 0).tensor_info("w", {8}, kF32, 0).tensor_info("w", {8}, kF32, 32);
  builder.pad_to(32);
  builder.zeros(64);
  EXPECT_THAT(load_error(builder.bytes()), HasSubstr("tensor 'w': duplicate tensor name, first defined by tensor 0"));
}

// ---- tensor data ----

TEST(GgufFile, RejectsMisalignedOffset) {
  EXPECT_THAT(load_error(one_tensor_file({4}, kF32, 16)),
              HasSubstr("tensor 'w': offset 16 is not a multiple of the alignment 32"));
}

TEST(GgufFile, RejectsDataPastEndOfFile) {
  // one_tensor_file writes 64 data bytes, but 24 floats need 96.
  EXPECT_THAT(load_error(one_tensor_file({24})), HasSubstr("tensor 'w': data of 96 bytes at offset 0"));
  EXPECT_THAT(load_error(one_tensor_file({8}, kF32, 64)),
              HasSubstr("tensor 'w': data of 32 bytes at offset 64 in the data section"));
}

TEST(GgufFile, RejectsOffsetOverflow) {
  const uint64_t offset = std::numeric_limits<uint64_t>::max() / 32 * 32;
  EXPECT_THAT(load_error(one_tensor_file({8}, kF32, offset)),
              HasSubstr(fmt::format("tensor 'w': data of 32 bytes at offset {}", offset)));
}

TEST(GgufFile, RejectsOverlappingTensors) {
  GgufBuilder builder;
  builder.header(3, 3, 0);
  builder.tensor_info("late", {8}, kF32, 64).tensor_info("first", {16}, kF32, 0).tensor_info("second", {8}, kF32, 32);
  builder.pad_to(32);
  builder.zeros(96);
  EXPECT_THAT(load_error(builder.bytes()),
              HasSubstr("tensors 'first' (bytes [0, 64)) and 'second' (bytes [32, 64)) overlap"));
}

TEST(GgufFile, AcceptsTouchingTensors) {
  GgufBuilder builder;
  builder.header(3, 2, 0).tensor_info("a", {8}, kF32, 0).tensor_info("b", {8}, kF32, 32);
  builder.pad_to(32);
  builder.zeros(64);
  EXPECT_EQ(load_error(builder.bytes()), "");
}

// ---- the default model ----

TEST(GgufFile, ReadsDefaultModel) {
  const std::string path = KVINFER_MODELS_DIR "/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "default model not found at " << path;

  File file(path);
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_EQ(file.tensors().size(), 272u);

  const TensorInfo* embedding = file.find_tensor("token_embd.weight");
  ASSERT_NE(embedding, nullptr);
  EXPECT_EQ(embedding->type, DType::Q8_0);
  EXPECT_EQ(embedding->n_dims, 2u);
  EXPECT_EQ(embedding->dims[0], 576u);
  EXPECT_EQ(embedding->dims[1], 49152u);
  EXPECT_EQ(embedding->n_bytes, 576u / 32 * 34 * 49152);

  const std::optional<std::vector<std::string_view>> tokens = file.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(tokens->size(), 49152u);
  EXPECT_EQ(file.get_uint("llama.block_count"), 30u);
}

}  // namespace
}  // namespace kvinfer::gguf
