// post-processors.cpp - every supported post-processor, for one text, is "these ids before, those
// after"; this reads them from the file.
#include "tok/post-processors.h"
#include <cstdint>

namespace retain::tok {

namespace {

struct Wrap {
  std::vector<int32_t> before, after;
};

int32_t id_from_json(const JsonNode& node) {
  int64_t id = node.integer();
  if (id < 0 || id > INT32_MAX) node.fail("expected a token id, found ", id);
  return static_cast<int32_t>(id);
}

// TemplateProcessing's "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}, ...],
// with each special token's ids listed under "special_tokens".
Wrap template_wrap(const JsonNode& node) {
  JsonNode single = node["single"];
  JsonNode special_tokens = node["special_tokens"];
  Wrap wrap;
  bool seen_text = false;
  for (size_t i = 0; i < single.size(); ++i) {
    JsonNode piece = single[i];
    if (piece.has("Sequence")) {
      std::string which = piece["Sequence"]["id"].str();
      if (which != "A" || seen_text) piece.fail("a single-text template holds sequence A once, found '", which, "'");
      seen_text = true;
      continue;
    }
    if (!piece.has("SpecialToken")) piece.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    std::string name = piece["SpecialToken"]["id"].str();
    if (!special_tokens.has(name.c_str())) piece.fail("special token '", name, "' is not listed in special_tokens");
    JsonNode ids = special_tokens[name.c_str()]["ids"];
    for (size_t k = 0; k < ids.size(); ++k) (seen_text ? wrap.after : wrap.before).push_back(id_from_json(ids[k]));
  }
  if (!seen_text) single.fail("the template never places the text (sequence A)");
  return wrap;
}

// BertProcessing / RobertaProcessing: "cls": ["[CLS]", 101], "sep": ["[SEP]", 102].
Wrap cls_sep_wrap(const JsonNode& node) { return Wrap{{id_from_json(node["cls"][1])}, {id_from_json(node["sep"][1])}}; }

Wrap parse(const JsonNode& node) {
  const std::string type = node.type();
  if (type == "TemplateProcessing") return template_wrap(node);
  if (type == "ByteLevel") return Wrap{};
  if (type == "BertProcessing" || type == "RobertaProcessing") return cls_sep_wrap(node);
  if (type == "Sequence") {
    JsonNode list = node["processors"];
    Wrap wrap;
    for (size_t i = 0; i < list.size(); ++i) {
      // Each processor wraps what the previous one produced.
      Wrap outer = parse(list[i]);
      outer.before.insert(outer.before.end(), wrap.before.begin(), wrap.before.end());
      wrap.after.insert(wrap.after.end(), outer.after.begin(), outer.after.end());
      wrap.before = std::move(outer.before);
    }
    return wrap;
  }
  node.fail("post-processor type '", type, "' is not supported (supported: TemplateProcessing, ByteLevel, ",
            "BertProcessing, RobertaProcessing, Sequence)");
}

}  // namespace

std::unique_ptr<PostProcessor> post_processor_from_json(const JsonNode& node) {
  Wrap wrap = parse(node);
  return std::make_unique<PostProcessor>(std::move(wrap.before), std::move(wrap.after));
}

}  // namespace retain::tok
