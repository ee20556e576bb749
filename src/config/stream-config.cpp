// stream-config.cpp - reads, checks and writes stream files. One field table per section names every
// key once; reading, the unknown-key check and the writer all go through it, so they cannot drift
// apart. `--set` overrides edit the parsed TOML before anything is read, so an override meets the same
// checks as the file, and each error names where the offending value came from: the file or the --set.
#include "config/stream-config.h"

#include <toml++/toml.h>
#include <cstdint>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <sstream>
#include <type_traits>
#include <variant>

#include "config/toml-writer.h"
#include "error.h"
#include "io/file-read.h"

namespace retain::config {

namespace {

namespace fs = std::filesystem;

// ---- The keys of each section ([method] is open: its keys belong to the method).

template <typename S>
using Member =
    std::variant<std::string S::*, int64_t S::*, uint64_t S::*, double S::*, bool S::*, std::vector<int64_t> S::*,
                 DType S::*, SaveFormat S::*, Schedule S::*, Head S::*, TaskKind S::*, EvalSplit S::*>;

template <typename S>
struct Field {
  const char* key;
  Member<S> member;
  bool is_path = false;  // resolved to an absolute path when read
};

const std::vector<Field<RunConfig>> kRunFields = {
    {"name", &RunConfig::name},
    {"out", &RunConfig::out},
    {"seed", &RunConfig::seed},
    {"device", &RunConfig::device},
};

const std::vector<Field<ModelConfig>> kModelFields = {
    {"path", &ModelConfig::path, true},
    {"init", &ModelConfig::init, true},
    {"tokenizer", &ModelConfig::tokenizer, true},
    {"dtype", &ModelConfig::dtype},
    {"save", &ModelConfig::save},
    {"gguf_type", &ModelConfig::gguf_type},
};

const std::vector<Field<TrainConfig>> kTrainFields = {
    {"epochs", &TrainConfig::epochs},
    {"max_steps", &TrainConfig::max_steps},
    {"batch_size", &TrainConfig::batch_size},
    {"grad_accum", &TrainConfig::grad_accum},
    {"lr", &TrainConfig::lr},
    {"weight_decay", &TrainConfig::weight_decay},
    {"beta1", &TrainConfig::beta1},
    {"beta2", &TrainConfig::beta2},
    {"eps", &TrainConfig::eps},
    {"schedule", &TrainConfig::schedule},
    {"warmup_ratio", &TrainConfig::warmup_ratio},
    {"clip_norm", &TrainConfig::clip_norm},
    {"max_length", &TrainConfig::max_length},
    {"checkpoint_every", &TrainConfig::checkpoint_every},
    {"log_every", &TrainConfig::log_every},
    {"zero", &TrainConfig::zero},
    {"head", &TrainConfig::head},
};

const std::vector<Field<TaskConfig>> kTaskFields = {
    {"name", &TaskConfig::name},
    {"kind", &TaskConfig::kind},
    {"train", &TaskConfig::train, true},
    {"test", &TaskConfig::test, true},
    {"valid", &TaskConfig::valid, true},
    {"train_labels", &TaskConfig::train_labels, true},
    {"test_labels", &TaskConfig::test_labels, true},
    {"classes", &TaskConfig::classes},
    {"template", &TaskConfig::template_},
    {"metric", &TaskConfig::metric},
    {"max_train", &TaskConfig::max_train},
    {"max_test", &TaskConfig::max_test},
    {"max_new_tokens", &TaskConfig::max_new_tokens},
};

const std::vector<Field<EvalConfig>> kEvalFields = {
    {"batch_size", &EvalConfig::batch_size},
    {"max_new_tokens", &EvalConfig::max_new_tokens},
    {"forward_transfer", &EvalConfig::forward_transfer},
    {"general_text", &EvalConfig::general_text, true},
    {"general_max_tokens", &EvalConfig::general_max_tokens},
    {"probe", &EvalConfig::probe, true},
    {"split", &EvalConfig::split},
};

const std::vector<std::string> kSections = {"run", "model", "method", "train", "task", "eval", "retention"};
const std::vector<std::string> kMetrics = {"exact_match", "accuracy", "rouge_l", "perplexity"};

template <typename S>
std::vector<std::string> keys_of(const std::vector<Field<S>>& fields) {
  std::vector<std::string> keys;
  for (const auto& field : fields) keys.push_back(field.key);
  return keys;
}

// Strings and words (enums) are written as TOML strings.
template <typename S>
bool is_string_field(const std::vector<Field<S>>& fields, const std::string& key) {
  for (const auto& field : fields) {
    if (key != field.key) continue;
    return std::visit(
        [](auto member) {
          using T = std::remove_reference_t<decltype(std::declval<S&>().*member)>;
          return std::is_same_v<T, std::string> || std::is_enum_v<T>;
        },
        field.member);
  }
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// The shortest text that reads back as the same double, in Python's layout (0.0003, 1e-05, 1e+16),
// always with a '.' or an exponent so TOML reads it as a float (1.0, not 1).
std::string double_text(double value) {
  const double size = std::fabs(value);
  const auto format =
      size == 0 || (size >= 1e-4 && size < 1e16) ? std::chars_format::fixed : std::chars_format::scientific;
  char buffer[64];  // fixed is used only for 1e-4 <= size < 1e16: at most 27 characters
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value, format).ptr;
  std::string text(buffer, end);
  if (text.find_first_of(".ein") == std::string::npos) text += ".0";
  return text;
}

// "integer 3", "string 'x'", "table": what a key holds, for "must be a <type>, got <what>".
std::string describe(const toml::node& node) {
  std::ostringstream os;
  if (const auto* s = node.as_string()) {
    os << "string '" << s->get() << "'";
  } else if (const auto* i = node.as_integer()) {
    os << "integer " << i->get();
  } else if (const auto* d = node.as_floating_point()) {
    os << "float " << double_text(d->get());
  } else if (const auto* b = node.as_boolean()) {
    os << "boolean " << (b->get() ? "true" : "false");
  } else {
    os << node.type();  // array, table, date, time, date-time
  }
  return os.str();
}

// ---- Where values came from.

// The stream file, or for the keys a --set wrote, that --set ("--set train.lr=3e-4").
struct Origins {
  std::string source;
  std::map<std::string, std::string> overrides;  // "train.lr", "task.2.max_train" -> "--set ..."

  const std::string* override_of(const std::string& section_id, const std::string& key) const {
    auto it = overrides.find(section_id + "." + key);
    return it == overrides.end() ? nullptr : &it->second;
  }
};

// ---- Reading one table.

// One table of the stream ([train], one [[task]], ...) read key by key. `label` is how errors name it:
// "[train]", "[[task]] #2 ('sum')". A missing table reads as an empty one (all defaults).
class Section {
 public:
  Section(const toml::table* table, std::string id, std::string label, const Origins& origins, fs::path base_dir)
      : table_(table),
        id_(std::move(id)),
        label_(std::move(label)),
        origins_(origins),
        base_dir_(std::move(base_dir)) {}

  const toml::table* table() const { return table_; }
  bool has(const std::string& key) const { return node(key) != nullptr; }

  // Refuses the first key not in `known`, listing the known ones.
  void check_keys(const std::vector<std::string>& known) const {
    if (table_ == nullptr) return;
    for (const auto& entry : *table_) {
      const std::string key(entry.first.str());
      if (!contains(known, key)) fail_at({key}, "has no key '", key, "' (keys: ", join(known), ")");
    }
  }

  void read(const std::string& key, std::string& field) const {
    const toml::node* value = node(key);
    if (value == nullptr) return;
    const auto* s = value->as_string();
    if (s == nullptr) fail_key(key, "must be a string, got ", describe(*value));
    field = s->get();
  }
  void read(const std::string& key, int64_t& field) const {
    const toml::node* value = node(key);
    if (value == nullptr) return;
    const auto* i = value->as_integer();
    if (i == nullptr) fail_key(key, "must be an integer, got ", describe(*value));
    field = i->get();
  }
  void read(const std::string& key, uint64_t& field) const {
    int64_t signed_value = static_cast<int64_t>(field);
    read(key, signed_value);
    require(key, signed_value >= 0, "0 or more", signed_value);
    field = static_cast<uint64_t>(signed_value);
  }
  void read(const std::string& key, double& field) const {
    const toml::node* value = node(key);
    if (value == nullptr) return;
    if (const auto* i = value->as_integer()) {
      field = static_cast<double>(i->get());
      return;
    }
    const auto* d = value->as_floating_point();
    if (d == nullptr) fail_key(key, "must be a number, got ", describe(*value));
    field = d->get();
  }
  void read(const std::string& key, bool& field) const {
    const toml::node* value = node(key);
    if (value == nullptr) return;
    const auto* b = value->as_boolean();
    if (b == nullptr) fail_key(key, "must be true or false, got ", describe(*value));
    field = b->get();
  }
  // One of the words of E (config/words.h).
  template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
  void read(const std::string& key, E& field) const {
    std::string word(word_of(field));
    read(key, word);
    const auto value = from_word<E>(word);
    if (!value) fail_key(key, "must be one of ", words_joined<E>(), ", got '", word, "'");
    field = *value;
  }
  void read(const std::string& key, std::vector<int64_t>& field) const {
    const toml::node* value = node(key);
    if (value == nullptr) return;
    const auto* array = value->as_array();
    if (array == nullptr) fail_key(key, "must be an array of integers, got ", describe(*value));
    field.clear();
    for (const auto& element : *array) {
      const auto* i = element.as_integer();
      if (i == nullptr) fail_key(key, "must be an array of integers, got an element ", describe(element));
      field.push_back(i->get());
    }
  }

  // A path relative to the stream file's folder, or for a --set to the current folder; empty stays empty.
  std::string resolve(const std::string& key, const std::string& path) const {
    if (path.empty()) return path;
    const fs::path base = origins_.override_of(id_, key) != nullptr ? fs::current_path() : base_dir_;
    return fs::absolute(base / path).lexically_normal().string();
  }

  template <typename T>
  void require(const std::string& key, bool ok, const char* requirement, const T& value) const {
    if (!ok) fail_key(key, "must be ", requirement, ", got ", value);
  }
  void one_of(const std::string& key, const std::string& value, const std::vector<std::string>& choices) const {
    if (!contains(choices, value)) fail_key(key, "must be one of ", join(choices), ", got '", value, "'");
  }

  // "[config] WHERE: [train] key 'lr' ..." where WHERE is the file or the --set that wrote the key.
  template <typename... Parts>
  [[noreturn]] void fail_key(const std::string& key, const Parts&... parts) const {
    fail_at({key}, "key '", key, "' ", parts...);
  }
  // An error about `keys` together; it names the first of them a --set wrote, else the file.
  template <typename... Parts>
  [[noreturn]] void fail_at(std::initializer_list<std::string> keys, const Parts&... parts) const {
    const std::string* where = &origins_.source;
    for (const auto& key : keys) {
      if (const auto* override = origins_.override_of(id_, key)) {
        where = override;
        break;
      }
    }
    fail("config", *where, ": ", label_, " ", parts...);
  }

 private:
  const toml::node* node(const std::string& key) const { return table_ == nullptr ? nullptr : table_->get(key); }

  const toml::table* table_;
  std::string id_, label_;
  const Origins& origins_;
  fs::path base_dir_;
};

// Every field of `config` from `section`, unknown keys refused, paths resolved.
template <typename S>
void fields_read(const Section& section, const std::vector<Field<S>>& fields, S& config) {
  section.check_keys(keys_of(fields));
  for (const auto& field : fields) {
    std::visit([&](auto member) { section.read(field.key, config.*member); }, field.member);
    if (field.is_path) {
      auto& path = config.*std::get<std::string S::*>(field.member);
      path = section.resolve(field.key, path);
    }
  }
}

const toml::table* top_table(const toml::table& root, const std::string& name, const std::string& source) {
  const toml::node* node = root.get(name);
  if (node == nullptr) return nullptr;
  if (const auto* table = node->as_table()) return table;
  fail("config", source, ": '", name, "' must be a table ([", name, "]), got ", describe(*node));
}

// ---- The sections.

RunConfig run_read(const Section& section, const std::string& source) {
  RunConfig run;
  fields_read(section, kRunFields, run);
  if (!section.has("name")) run.name = fs::path(source).stem().string();
  section.require("name",
                  !run.name.empty() && run.name != "." && run.name != ".." && run.name.find('/') == std::string::npos,
                  "a folder name (not empty, no '/')", "'" + run.name + "'");
  const bool cuda_n = run.device.rfind("cuda:", 0) == 0 && run.device.size() > 5 &&
                      run.device.find_first_not_of("0123456789", 5) == std::string::npos;
  section.require("device", run.device == "auto" || run.device == "cpu" || run.device == "cuda" || cuda_n,
                  "auto, cpu, cuda or cuda:N", "'" + run.device + "'");
  return run;
}

ModelConfig model_read(const Section& section) {
  ModelConfig model;
  fields_read(section, kModelFields, model);
  if (model.path.empty() == model.init.empty()) {
    section.fail_at({"path", "init"}, model.path.empty() ? "needs 'path' (a Hugging Face model folder) or 'init' "
                                                           "(a config.json to initialise a model randomly)"
                                                         : "sets both 'path' and 'init'; set exactly one");
  }
  section.one_of("gguf_type", model.gguf_type, {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1"});
  return model;
}

bool numbers_only(const toml::array& array) {
  return std::all_of(array.begin(), array.end(), [](const toml::node& element) { return element.is_number(); });
}

// `name`, and every other key as a method option of the type TOML gave it.
MethodConfig method_read(const Section& section, const std::string& source) {
  MethodConfig method;
  method.options = Options(source, "method");
  section.read("name", method.name);
  section.require("name", !method.name.empty(), "a method name", "''");
  if (section.table() == nullptr) return method;
  for (const auto& entry : *section.table()) {
    const std::string key(entry.first.str());
    const toml::node& value = entry.second;
    if (key == "name") continue;
    if (const auto* b = value.as_boolean()) {
      method.options.set(key, b->get());
    } else if (const auto* i = value.as_integer()) {
      method.options.set(key, i->get());
    } else if (const auto* d = value.as_floating_point()) {
      method.options.set(key, d->get());
    } else if (const auto* s = value.as_string()) {
      method.options.set(key, s->get());
    } else if (const auto* array = value.as_array(); array != nullptr && numbers_only(*array)) {
      std::vector<double> numbers;
      for (const auto& element : *array) {
        numbers.push_back(element.is_integer() ? static_cast<double>(element.as_integer()->get())
                                               : element.as_floating_point()->get());
      }
      method.options.set(key, numbers);
    } else {
      section.fail_key(key, "must be a boolean, a number, a string or an array of numbers, got ", describe(value));
    }
  }
  return method;
}

TrainConfig train_read(const Section& section) {
  TrainConfig train;
  fields_read(section, kTrainFields, train);
  section.require("epochs", train.epochs >= 0, "0 or more", train.epochs);
  section.require("max_steps", train.max_steps >= 0, "0 or more", train.max_steps);
  if (train.epochs < 1 && train.max_steps < 1) {
    section.fail_at({"epochs", "max_steps"}, "trains nothing: set epochs >= 1 or max_steps > 0");
  }
  section.require("batch_size", train.batch_size >= 1, "1 or more", train.batch_size);
  section.require("grad_accum", train.grad_accum >= 1, "1 or more", train.grad_accum);
  section.require("lr", train.lr > 0 && std::isfinite(train.lr), "a number > 0", train.lr);
  section.require("weight_decay", train.weight_decay >= 0 && std::isfinite(train.weight_decay), "a number >= 0",
                  train.weight_decay);
  section.require("beta1", train.beta1 >= 0 && train.beta1 < 1, "in [0, 1)", train.beta1);
  section.require("beta2", train.beta2 >= 0 && train.beta2 < 1, "in [0, 1)", train.beta2);
  section.require("eps", train.eps > 0 && std::isfinite(train.eps), "a number > 0", train.eps);
  section.require("warmup_ratio", train.warmup_ratio >= 0 && train.warmup_ratio < 1, "in [0, 1)", train.warmup_ratio);
  section.require("clip_norm", train.clip_norm >= 0 && std::isfinite(train.clip_norm), "a number >= 0 (0 = off)",
                  train.clip_norm);
  section.require("max_length", train.max_length >= 2, "2 or more (a language model learns from the second token on)",
                  train.max_length);
  section.require("checkpoint_every", train.checkpoint_every >= 0, "0 or more", train.checkpoint_every);
  section.require("log_every", train.log_every >= 1, "1 or more", train.log_every);
  section.require("zero", train.zero == 0 || train.zero == 1, "0 or 1 (ZeRO stage)", train.zero);
  return train;
}

// "[[task]] #2 ('sum')", or "[[task]] #2" before the name is known to be a string.
std::string task_label(const toml::table* table, size_t number) {
  std::string label = "[[task]] #" + std::to_string(number);
  if (table != nullptr) {
    if (const auto* name = table->get_as<std::string>("name")) label += " ('" + name->get() + "')";
  }
  return label;
}

TaskConfig task_read(const Section& section) {
  TaskConfig task;
  fields_read(section, kTaskFields, task);
  if (task.name.empty()) section.fail_at({"name"}, "needs a 'name'");
  if (!section.has("kind")) section.fail_at({"kind"}, "needs a 'kind' (", words_joined<TaskKind>(), ")");

  const bool images = task.kind == TaskKind::ImageClassification;
  const bool text = task.kind == TaskKind::Text;
  const auto need = [&](const char* key, bool given) {
    if (!given) section.fail_at({key}, "needs '", key, "' (kind ", word_of(task.kind), ")");
  };
  need("train", !task.train.empty());
  if (!text) need("test", !task.test.empty());
  const std::pair<const char*, bool> image_keys[] = {{"train_labels", !task.train_labels.empty()},
                                                     {"test_labels", !task.test_labels.empty()},
                                                     {"classes", !task.classes.empty()}};
  for (const auto& [key, given] : image_keys) {
    if (images) {
      need(key, given);
    } else if (given) {
      section.fail_key(key, "is only for kind image-classification");
    }
  }
  for (size_t i = 0; i < task.classes.size(); ++i) {
    section.require("classes", task.classes[i] >= 0, "labels >= 0", task.classes[i]);
    if (std::find(task.classes.begin(), task.classes.begin() + i, task.classes[i]) != task.classes.begin() + i) {
      section.fail_key("classes", "lists label ", task.classes[i], " twice");
    }
  }

  if (task.metric.empty()) {
    task.metric = task.kind == TaskKind::Generation ? "exact_match" : text ? "perplexity" : "accuracy";
  }
  section.one_of("metric", task.metric, kMetrics);
  const std::string only = images ? "accuracy" : text ? "perplexity" : "";
  if (!only.empty() && task.metric != only) {
    section.fail_key("metric", "must be ", only, " for kind ", word_of(task.kind), ", got '", task.metric, "'");
  }
  const bool has_input = task.template_.find("{input}") != std::string::npos;
  if (task.kind == TaskKind::Generation) {
    section.require("template", has_input, "a prompt holding {input}", "'" + task.template_ + "'");
  }
  if (task.kind == TaskKind::TextClassification) {
    section.require("template", has_input || task.template_.find("{text}") != std::string::npos,
                    "a prompt holding {text} or {input}", "'" + task.template_ + "'");
  }
  section.require("max_train", task.max_train >= 0, "0 or more (0 = all)", task.max_train);
  section.require("max_test", task.max_test >= 0, "0 or more (0 = all)", task.max_test);
  section.require("max_new_tokens", task.max_new_tokens >= 0, "0 or more (0 = [eval].max_new_tokens)",
                  task.max_new_tokens);
  return task;
}

std::vector<TaskConfig> tasks_read(const toml::table& root, const Origins& origins, const fs::path& base_dir) {
  const toml::node* node = root.get("task");
  const toml::array* array = node == nullptr ? nullptr : node->as_array();
  if (node != nullptr && array == nullptr) {
    fail("config", origins.source, ": 'task' must be an array of tables ([[task]]), got ", describe(*node));
  }
  if (array == nullptr || array->empty()) fail("config", origins.source, ": the stream has no [[task]]");
  std::vector<TaskConfig> tasks;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::table* table = (*array)[i].as_table();
    const std::string label = task_label(table, i + 1);
    if (table == nullptr) fail("config", origins.source, ": ", label, " must be a table, got ", describe((*array)[i]));
    Section section(table, "task." + std::to_string(i + 1), label, origins, base_dir);
    tasks.push_back(task_read(section));
    for (size_t j = 0; j < i; ++j) {
      if (tasks[j].name == tasks[i].name) section.fail_key("name", "repeats the name of [[task]] #", j + 1);
    }
  }
  return tasks;
}

EvalConfig eval_read(const Section& section) {
  EvalConfig eval;
  fields_read(section, kEvalFields, eval);
  section.require("batch_size", eval.batch_size >= 1, "1 or more", eval.batch_size);
  section.require("max_new_tokens", eval.max_new_tokens >= 1, "1 or more", eval.max_new_tokens);
  section.require("general_max_tokens", eval.general_max_tokens >= 2, "2 or more", eval.general_max_tokens);
  return eval;
}

StreamConfig stream_read(const toml::table& root, const Origins& origins, const fs::path& base_dir) {
  for (const auto& entry : root) {
    const std::string key(entry.first.str());
    if (!contains(kSections, key)) {
      fail("config", origins.source, ": no section [", key,
           "] (sections: run, model, method, train, [[task]], eval, retention)");
    }
  }
  const auto section = [&](const std::string& name) {
    return Section(top_table(root, name, origins.source), name, "[" + name + "]", origins, base_dir);
  };
  StreamConfig config;
  config.source = origins.source;
  config.overrides = origins.overrides;
  config.run = run_read(section("run"), origins.source);
  config.model = model_read(section("model"));
  config.method = method_read(section("method"), origins.source);
  config.train = train_read(section("train"));
  config.tasks = tasks_read(root, origins, base_dir);
  config.eval = eval_read(section("eval"));
  if (root.contains("retention")) {
    const auto retention = section("retention");
    config.retention = task_read(retention);
    if (config.retention->kind != TaskKind::ImageClassification) {
      retention.fail_key("kind", "must be image-classification (the pretraining task the model is scored on), got '",
                         word_of(config.retention->kind), "'");
    }
  }
  return config;
}

// ---- Overrides.

// Whether [section] key holds a string: a --set value for it is taken as written ("run.name=2024"
// names a run "2024"), unless it is a quoted TOML string.
bool is_string_key(const std::string& section, const std::string& key) {
  if (section == "run") return is_string_field(kRunFields, key);
  if (section == "model") return is_string_field(kModelFields, key);
  if (section == "method") return key == "name";
  if (section == "train") return is_string_field(kTrainFields, key);
  if (section == "task" || section == "retention") return is_string_field(kTaskFields, key);
  return is_string_field(kEvalFields, key);
}

// The table a --set edits: [section], or the [[task]] named by number (1-based) or by name.
// `id` becomes the section's id for Origins.
toml::table& override_table(toml::table& root, const std::string& section, const std::string& task,
                            const std::string& where, std::string& id) {
  if (section != "task") {
    id = section;
    toml::node* node = root.get(section);
    if (node == nullptr) node = &root.insert(section, toml::table{}).first->second;
    if (!node->is_table()) fail("config", where, ": '", section, "' in the stream file is not a table");
    return *node->as_table();
  }
  const bool is_number = !task.empty() && task.size() < 10 && task.find_first_not_of("0123456789") == std::string::npos;
  const size_t number = is_number ? std::stoul(task) : 0;
  toml::array* array = root.get_as<toml::array>("task");
  std::vector<std::string> names;
  for (size_t i = 0; array != nullptr && i < array->size(); ++i) {
    toml::table* table = (*array)[i].as_table();
    const auto* name_node = table != nullptr ? table->get_as<std::string>("name") : nullptr;
    const std::string name = name_node != nullptr ? name_node->get() : "";
    if (table != nullptr && (number == i + 1 || (!is_number && name == task))) {
      id = "task." + std::to_string(i + 1);
      return *table;
    }
    names.push_back(std::to_string(i + 1) + " '" + name + "'");
  }
  fail("config", where, ": the stream has no task '", task, "' (tasks: ", names.empty() ? "none" : join(names), ")");
}

// Applies one "key=value" to the parsed stream file and records it as the origin of that key.
void override_apply(toml::table& root, const std::string& text, Origins& origins) {
  const std::string where = "--set " + text;
  const auto equals = text.find('=');
  const std::string path = text.substr(0, equals);
  const auto dot = path.find('.');
  if (equals == std::string::npos || dot == std::string::npos || dot + 1 == path.size()) {
    fail("config", where, ": expected section.key=value (train.lr=3e-4, task.2.max_train=100, task.NAME.metric=...)");
  }
  const std::string section = path.substr(0, dot);
  if (!contains(kSections, section)) {
    fail("config", where, ": no section [", section, "] (sections: run, model, method, train, task, eval, retention)");
  }
  std::string key = path.substr(dot + 1), task;
  if (section == "task") {
    const auto last = key.rfind('.');
    if (last == std::string::npos) fail("config", where, ": name the task, as in task.2.", key, " or task.NAME.", key);
    task = key.substr(0, last);
    key = key.substr(last + 1);
  }
  std::string id;
  toml::table& table = override_table(root, section, task, where, id);

  const std::string value = text.substr(equals + 1);
  toml::table parsed;
  try {
    parsed = toml::parse(std::string_view("v = " + value), std::string_view(where));
  } catch (const toml::parse_error&) {
    parsed = toml::table{};  // not a TOML value: a string as written
  }
  toml::node* node = parsed.size() == 1 ? parsed.get("v") : nullptr;
  if (node == nullptr || (is_string_key(section, key) && !node->is_string())) {
    table.insert_or_assign(key, value);
  } else {
    table.insert_or_assign(key, std::move(*node));
  }
  origins.overrides[id + "." + key] = where;
}

// ---- Writing.

std::string value_text(const std::string& value) { return toml_string(value); }
std::string value_text(int64_t value) { return std::to_string(value); }
std::string value_text(uint64_t value) { return std::to_string(value); }
std::string value_text(double value) { return double_text(value); }
std::string value_text(bool value) { return value ? "true" : "false"; }
template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
std::string value_text(E value) {
  return toml_string(std::string(word_of(value)));
}
template <typename T>
std::string value_text(const std::vector<T>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i == 0 ? "" : ", ") + value_text(values[i]);
  return text + "]";
}

template <typename S>
void fields_write(std::ostream& os, const std::vector<Field<S>>& fields, const S& config) {
  for (const auto& field : fields) {
    os << field.key << " = ";
    std::visit([&](auto member) { os << value_text(config.*member); }, field.member);
    os << '\n';
  }
}

}  // namespace

StreamConfig stream_config_parse(const std::string& text, const std::string& source, const std::string& base_dir,
                                 const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(std::string_view(text), std::string_view(source));
  } catch (const toml::parse_error& e) {
    fail("config", source, ": invalid TOML at line ", e.source().begin.line, ", column ", e.source().begin.column, ": ",
         e.description());
  }
  Origins origins{source, {}};
  for (const auto& override : overrides) override_apply(root, override, origins);
  return stream_read(root, origins, base_dir.empty() ? fs::path(".") : fs::path(base_dir));
}

StreamConfig stream_config_load(const std::string& path, const std::vector<std::string>& overrides) {
  return stream_config_parse(io::file_read(path, "config"), path, fs::path(path).parent_path().string(), overrides);
}

std::string stream_config_to_toml(const StreamConfig& config) {
  std::ostringstream os;
  os << "# resolved from " << config.source << ": every key, defaults filled in\n";
  os << "\n[run]\n";
  fields_write(os, kRunFields, config.run);
  os << "\n[model]\n";
  fields_write(os, kModelFields, config.model);
  os << "\n[method]\nname = " << toml_string(config.method.name) << '\n';
  for (const auto& [key, value] : config.method.options.values()) {
    os << toml_key(key) << " = ";
    std::visit([&](const auto& v) { os << value_text(v); }, value);
    os << '\n';
  }
  os << "\n[train]\n";
  fields_write(os, kTrainFields, config.train);
  for (const auto& task : config.tasks) {
    os << "\n[[task]]\n";
    fields_write(os, kTaskFields, task);
  }
  os << "\n[eval]\n";
  fields_write(os, kEvalFields, config.eval);
  if (config.retention) {
    os << "\n[retention]\n";
    fields_write(os, kTaskFields, *config.retention);
  }
  return os.str();
}

}  // namespace retain::config
