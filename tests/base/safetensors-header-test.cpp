// Header parser and writer: each hostile header is built byte by byte here and must give one
// retain::Error naming the file and the tensor; valid headers round-trip exactly.
#include <gtest/gtest.h>
#include <cstdint>

#include <cstring>
#include <initializer_list>
#include <string>

#include "../test-support.h"
#include "error.h"
#include "io/safetensors-header.h"

namespace retain::io {
namespace {

const std::string kFile = "hostile.safetensors";

std::string le64(uint64_t n) {
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &n, 8);
  return bytes;
}

// A whole file: the header length, the JSON as given (not padded), then `data_bytes` zero bytes.
std::string file_with(const std::string& json, size_t data_bytes = 0) {
  return le64(json.size()) + json + std::string(data_bytes, '\0');
}

SafetensorsHeader parse(const std::string& bytes) {
  return safetensors_header_parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), kFile);
}

// The parse must fail with a message that starts with the component and file and has each of `parts`.
void expect_error(const std::string& bytes, std::initializer_list<std::string> parts) {
  SCOPED_TRACE("a header of " + std::to_string(bytes.size()) + " bytes");
  test::expect_error_with([&] { parse(bytes); }, "[safetensors] " + kFile + ": ", parts);
}

// One F32 tensor 'w' with the given entry fields.
std::string one_tensor(const std::string& fields) { return R"({"w":{)" + fields + "}}"; }

TEST(SafetensorsHeader, RejectsFilesShorterThanTheLength) {
  expect_error("", {"has 0 bytes"});
  expect_error(std::string(7, '\0'), {"has 7 bytes"});
}

TEST(SafetensorsHeader, RejectsHeaderLengthPastTheEnd) {
  expect_error(le64(100) + "{}", {"header length 100", "10-byte file"});
  expect_error(le64(1), {"header length 1", "8-byte file"});
}

TEST(SafetensorsHeader, RejectsAbsurdHeaderLength) {
  expect_error(le64(100'000'001) + "{}", {"header length 100000001", "limit of 100000000"});
  expect_error(le64(~uint64_t(0)) + "{}", {"header length 18446744073709551615"});
  expect_error(le64(uint64_t(1) << 63), {"header length 9223372036854775808"});
}

TEST(SafetensorsHeader, RejectsInvalidJson) {
  expect_error(file_with("{"), {"not valid JSON"});
  expect_error(file_with(R"({"w":{"dtype":"F32",}})"), {"not valid JSON"});
  expect_error(file_with("{} x"), {"not valid JSON"});
  expect_error(file_with(R"({"w":1e999})"), {"not valid JSON"});
}

TEST(SafetensorsHeader, RejectsNonUtf8) {
  expect_error(file_with("{\"w\xff\":{}}"), {"not valid JSON", "ill-formed UTF-8 byte; last read: '\"w?'"});
  expect_error(file_with("{\"w\xc3\x28\":{}}"), {"not valid JSON", "UTF-8"});
  expect_error(file_with(R"({"w\ud800":{}})"), {"not valid JSON"});  // a lone surrogate
}

TEST(SafetensorsHeader, RejectsNulBytes) {
  // nlohmann would stop at the NUL and ignore what follows.
  expect_error(file_with(std::string("{}\0garbage", 10)), {"NUL byte at byte 10"});
}

TEST(SafetensorsHeader, RejectsHeaderThatIsNotAnObject) {
  expect_error(file_with("[1, 2]"), {"the header is [1,2], not a JSON object"});
  expect_error(file_with("\"w\""), {"not a JSON object"});
  expect_error(file_with("null"), {"not a JSON object"});
}

TEST(SafetensorsHeader, RejectsTensorThatIsNotAnObject) {
  expect_error(file_with(R"({"w":5})"), {"tensor 'w' is 5, not an object"});
}

TEST(SafetensorsHeader, RejectsMissingFields) {
  expect_error(file_with(one_tensor(R"("shape":[1],"data_offsets":[0,4])"), 4), {"tensor 'w' has no 'dtype'"});
  expect_error(file_with(one_tensor(R"("dtype":"F32","data_offsets":[0,4])"), 4), {"tensor 'w' has no 'shape'"});
  expect_error(file_with(one_tensor(R"("dtype":"F32","shape":[1])"), 4), {"tensor 'w' has no 'data_offsets'"});
}

TEST(SafetensorsHeader, RejectsUnknownDtypesByName) {
  expect_error(file_with(one_tensor(R"("dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4])"), 4),
               {"tensor 'w' has dtype \"F8_E4M3\", which retain does not read", "BF16"});
  expect_error(file_with(one_tensor(R"("dtype":"f32","shape":[1],"data_offsets":[0,4])"), 4),
               {"tensor 'w'", "\"f32\""});
  expect_error(file_with(one_tensor(R"("dtype":4,"shape":[1],"data_offsets":[0,4])"), 4), {"tensor 'w' has dtype 4"});
}

TEST(SafetensorsHeader, RejectsBadShapes) {
  auto with_shape = [](const std::string& shape) {
    return file_with(one_tensor(R"("dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,4])"), 4);
  };
  expect_error(with_shape("[-1]"), {"tensor 'w' has shape entry -1"});
  expect_error(with_shape("[1.0]"), {"tensor 'w' has shape entry 1.0"});
  expect_error(with_shape("[\"1\"]"), {"tensor 'w' has shape entry \"1\""});
  expect_error(with_shape("4"), {"tensor 'w' has shape 4, not a list"});
  expect_error(with_shape("[9223372036854775808]"), {"tensor 'w' has shape entry 9223372036854775808"});
  expect_error(with_shape("[18446744073709551616]"), {"tensor 'w' has shape entry"});
}

TEST(SafetensorsHeader, RejectsBadOffsets) {
  auto with_offsets = [](const std::string& offsets) {
    return file_with(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":)" + offsets), 4);
  };
  expect_error(with_offsets("[0]"), {"tensor 'w' has data_offsets [0], not [begin, end]"});
  expect_error(with_offsets("[0,4,8]"), {"tensor 'w' has data_offsets [0,4,8]"});
  expect_error(with_offsets("[-1,4]"), {"tensor 'w' has data_offsets entry -1"});
  expect_error(with_offsets("[0,\"4\"]"), {"tensor 'w' has data_offsets entry \"4\""});
  expect_error(with_offsets("{}"), {"tensor 'w' has data_offsets {}, not a list"});
}

TEST(SafetensorsHeader, RejectsEndBeforeBegin) {
  expect_error(file_with(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[4,0])"), 4),
               {"tensor 'w' has data_offsets [4, 0]: end before begin"});
}

TEST(SafetensorsHeader, RejectsOverlappingTensors) {
  const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_error(file_with(json, 12), {"tensor 'b' starts at byte 4, inside tensor 'a' which ends at 8"});
  const std::string same = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  expect_error(file_with(same, 4), {"tensor 'b' starts at byte 0, inside tensor 'a'"});
}

TEST(SafetensorsHeader, RejectsHoles) {
  // The Rust crate requires the tensors to cover the data buffer with no gap.
  const std::string json = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  expect_error(file_with(json, 12), {"tensor 'b' starts at byte 8, leaving a hole after byte 4"});
  expect_error(file_with(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[4,8])"), 8),
               {"tensor 'w' starts at byte 4, leaving a hole after byte 0"});
}

TEST(SafetensorsHeader, RejectsOffsetsPastTheEnd) {
  expect_error(file_with(one_tensor(R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"), 8),
               {"tensor 'w' ends at byte 16 of the data, past its 8 bytes"});
  expect_error(file_with(one_tensor(R"("dtype":"U8","shape":[9223372036854775807],)"
                                    R"("data_offsets":[0,9223372036854775807])"),
                         8),
               {"tensor 'w' ends at byte 9223372036854775807 of the data, past its 8 bytes"});
}

TEST(SafetensorsHeader, RejectsTrailingData) {
  expect_error(file_with(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0,4])"), 12),
               {"8 bytes follow the last tensor 'w'"});
  expect_error(file_with("{}", 3), {"lists no tensor but 3 data bytes follow"});
}

TEST(SafetensorsHeader, RejectsSizeThatDoesNotMatchShape) {
  expect_error(file_with(one_tensor(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])"), 8),
               {"tensor 'w' has shape [3] of F32 (12 bytes) but data_offsets [0, 8] span 8 bytes"});
  expect_error(file_with(one_tensor(R"("dtype":"BF16","shape":[2,2],"data_offsets":[0,4])"), 4),
               {"tensor 'w' has shape [2, 2] of BF16"});
}

TEST(SafetensorsHeader, RejectsSizesThatOverflow) {
  // 2^32 * 2^32 elements: a wrapping product would be 0 and match the empty range.
  expect_error(file_with(one_tensor(R"("dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0])")),
               {"tensor 'w' has shape [4294967296, 4294967296] of U8, whose size in bytes overflows 64 bits"});
  // 2^62 elements of 4 bytes: the byte count wraps to 0.
  expect_error(file_with(one_tensor(R"("dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0])")),
               {"tensor 'w' has shape [4611686018427387904] of F32, whose size in bytes overflows"});
  // A zero dimension makes any other one harmless.
  EXPECT_EQ(parse(file_with(one_tensor(R"("dtype":"F32","shape":[0,4611686018427387904],"data_offsets":[0,0])")))
                .tensors.at(0)
                .shape,
            (std::vector<int64_t>{0, 4611686018427387904}));
}

TEST(SafetensorsHeader, RejectsDuplicateNames) {
  const std::string json = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_error(file_with(json, 8), {"'w' appears twice"});
  expect_error(file_with(one_tensor(R"("dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4])"), 4),
               {"'w' has the key 'dtype' twice"});
  expect_error(file_with(R"({"__metadata__":{"k":"a","k":"b"}})"), {"'__metadata__' has the key 'k' twice"});
}

TEST(SafetensorsHeader, RejectsMetadataThatIsNotStrings) {
  expect_error(file_with(R"({"__metadata__":{"format":1}})"), {"__metadata__ entry 'format' is 1, not a string"});
  expect_error(file_with(R"({"__metadata__":["pt"]})"), {"__metadata__ is [\"pt\"], not an object"});
}

TEST(SafetensorsHeader, CutsLongValuesInMessages) {
  // 1000 two-byte characters (é): the message keeps 19 of them whole, after the opening quote.
  std::string long_name;
  for (int i = 0; i < 1000; ++i) long_name += "\xc3\xa9";
  try {
    parse(file_with(one_tensor(R"("dtype":")" + long_name + R"(","shape":[1],"data_offsets":[0,4])"), 4));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    std::string kept = "\"";
    for (int i = 0; i < 19; ++i) kept += "\xc3\xa9";
    EXPECT_NE(message.find("has dtype " + kept + "..., which"), std::string::npos) << message;
    EXPECT_LT(message.size(), 200u);
  }
}

TEST(SafetensorsHeader, ParsesAValidHeader) {
  // Entries in any order, padding spaces, extra fields (the Rust crate ignores them), empty tensors.
  const std::string json = R"({"b":{"dtype":"I64","shape":[2],"data_offsets":[6,22],"extra":[1]},)"
                           R"("__metadata__":{"format":"pt","x":"\u00e9"},)"
                           R"("a":{"dtype":"BF16","shape":[1,3],"data_offsets":[0,6]},)"
                           R"("e":{"dtype":"F32","shape":[0,5],"data_offsets":[22,22]},)"
                           R"("s":{"dtype":"BOOL","shape":[],"data_offsets":[22,23]}}   )";
  const SafetensorsHeader header = parse(file_with(json, 23));
  EXPECT_EQ(header.data_start, 8 + json.size());
  EXPECT_EQ(header.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"x", "\xc3\xa9"}}));
  ASSERT_EQ(header.tensors.size(), 4u);
  const char* names[] = {"a", "b", "e", "s"};  // in data-offset order
  const Dtype dtypes[] = {Dtype::BF16, Dtype::I64, Dtype::F32, Dtype::BOOL};
  const std::vector<int64_t> shapes[] = {{1, 3}, {2}, {0, 5}, {}};
  const uint64_t begins[] = {0, 6, 22, 22}, ends[] = {6, 22, 22, 23};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(header.tensors[i].name, names[i]);
    EXPECT_EQ(header.tensors[i].dtype, dtypes[i]);
    EXPECT_EQ(header.tensors[i].shape, shapes[i]);
    EXPECT_EQ(header.tensors[i].begin, begins[i]);
    EXPECT_EQ(header.tensors[i].end, ends[i]);
  }
  EXPECT_TRUE(parse(file_with("{}")).tensors.empty());
  EXPECT_TRUE(parse(file_with(R"({"__metadata__":null})")).metadata.empty());
}

TEST(SafetensorsHeader, DtypeNamesAndSizes) {
  const std::pair<Dtype, std::pair<const char*, size_t>> expected[] = {
      {Dtype::F64, {"F64", 8}}, {Dtype::F32, {"F32", 4}},  {Dtype::F16, {"F16", 2}}, {Dtype::BF16, {"BF16", 2}},
      {Dtype::I64, {"I64", 8}}, {Dtype::I32, {"I32", 4}},  {Dtype::I16, {"I16", 2}}, {Dtype::I8, {"I8", 1}},
      {Dtype::U8, {"U8", 1}},   {Dtype::BOOL, {"BOOL", 1}}};
  for (const auto& [dtype, name_size] : expected) {
    EXPECT_STREQ(dtype_name(dtype), name_size.first);
    EXPECT_EQ(dtype_size(dtype), name_size.second);
  }
}

// The Rust crate's own serialization tests give these exact bytes.
TEST(SafetensorsHeader, BuildsTheRustWritersBytes) {
  EXPECT_EQ(safetensors_header_build({}, {}), le64(8) + "{}      ");
  EXPECT_EQ(safetensors_header_build({}, {{"framework", "pt"}}),
            le64(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
  const std::string attn = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(attn.size(), 64u);
  EXPECT_EQ(safetensors_header_build({{"attn.0", Dtype::F32, {1, 2, 3}, 0, 24}}, {}), le64(64) + attn);
  const std::string attn0 = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  EXPECT_EQ(safetensors_header_build({{"attn0", Dtype::F32, {1, 1, 2, 3}, 0, 24}}, {}),
            le64(72) + attn0 + std::string(72 - attn0.size(), ' '));
}

TEST(SafetensorsHeader, BuildEscapesAsSerdeJson) {
  const std::string header = safetensors_header_build({{"a\"b\\c\n\x01/\xc3\xa9", Dtype::U8, {}, 0, 1}}, {});
  EXPECT_NE(header.find(R"({"a\"b\\c\n\u0001/)"
                        "\xc3\xa9"
                        R"(":{)"),
            std::string::npos)
      << header;
  EXPECT_THROW(safetensors_header_build({{"bad\xff", Dtype::U8, {}, 0, 1}}, {}), Error);
  EXPECT_THROW(safetensors_header_build({{"__metadata__", Dtype::U8, {}, 0, 1}}, {}), Error);
  EXPECT_THROW(safetensors_header_build({{"w", Dtype::U8, {}, 0, 1}, {"w", Dtype::U8, {}, 1, 2}}, {}), Error);
}

TEST(SafetensorsHeader, BuildThenParseRoundTrips) {
  const std::vector<TensorEntry> tensors = {{"z.weight", Dtype::I64, {3}, 0, 24},
                                            {"a.weight", Dtype::F32, {2, 2}, 24, 40},
                                            {"m", Dtype::BF16, {5}, 40, 50},
                                            {"flag", Dtype::BOOL, {}, 50, 51},
                                            {"empty", Dtype::U8, {0}, 51, 51}};
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "a \"quoted\" value"}};
  const std::string header = safetensors_header_build(tensors, metadata);
  ASSERT_EQ(header.size() % 8, 0u);
  const std::string bytes = header + std::string(51, '\0');
  const SafetensorsHeader parsed = parse(bytes);
  EXPECT_EQ(parsed.data_start, header.size());
  EXPECT_EQ(parsed.metadata, metadata);
  ASSERT_EQ(parsed.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(parsed.tensors[i].name, tensors[i].name);
    EXPECT_EQ(parsed.tensors[i].dtype, tensors[i].dtype);
    EXPECT_EQ(parsed.tensors[i].shape, tensors[i].shape);
    EXPECT_EQ(parsed.tensors[i].begin, tensors[i].begin);
    EXPECT_EQ(parsed.tensors[i].end, tensors[i].end);
  }
  // Building again from what was parsed gives the same bytes.
  EXPECT_EQ(safetensors_header_build(parsed.tensors, parsed.metadata), header);
}

}  // namespace
}  // namespace retain::io
