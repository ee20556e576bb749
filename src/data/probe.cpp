// probe.cpp - reading and writing probe items (JSON Lines).
#include "data/probe.h"

#include <nlohmann/json.hpp>

#include "data/jsonl.h"
#include "error.h"

namespace retain::data {

std::vector<ProbeItem> probe_read(const std::string& path) {
  std::vector<ProbeItem> items;
  for (const auto& [line, object] : jsonl_objects(path)) {
    auto bad = [&, line = line](const auto&... what) { fail("data", path, ":", line, ": ", what...); };
    ProbeItem item;
    const auto question = object.find("question");
    if (question == object.end() || !question->is_string()) bad("\"question\" must be a string");
    item.question = question->get<std::string>();
    const auto choices = object.find("choices");
    if (choices == object.end() || !choices->is_array() || choices->size() < 2) {
      bad("\"choices\" must be a list of at least 2 strings");
    }
    for (const auto& choice : *choices) {
      if (!choice.is_string() || choice.get_ref<const std::string&>().empty()) {
        bad("\"choices\" must hold non-empty strings");
      }
      item.choices.push_back(choice.get<std::string>());
    }
    const auto answer = object.find("answer");
    if (answer == object.end() || !answer->is_number_integer() || answer->get<int64_t>() < 0 ||
        answer->get<int64_t>() >= static_cast<int64_t>(item.choices.size())) {
      bad("\"answer\" must be the index of one of the ", item.choices.size(), " choices (0..", item.choices.size() - 1,
          ")");
    }
    item.answer = answer->get<int64_t>();
    items.push_back(std::move(item));
  }
  return items;
}

std::string probe_line(const ProbeItem& item) {
  return nlohmann::json{{"question", item.question}, {"choices", item.choices}, {"answer", item.answer}}.dump();
}

}  // namespace retain::data
