// Stream files: defaults, every kind of error naming the key and where the value came from (the file
// or the --set), overrides by section, task number and task name, path resolution, and the resolved
// TOML reading back to the same configuration. Method options: typed getters and unread keys.
#include "config/stream-config.h"

#include <gtest/gtest.h>
#include <cstdint>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "../test-support.h"
#include "config/options.h"
#include "error.h"

namespace retain::config {
namespace {

namespace fs = std::filesystem;
using test::error_of;

const std::string kSource = "streams/demo.toml";
const std::string kBase = "/data/streams";

// The smallest valid stream: a model and one generation task.
const std::string kMinimal = R"(
[model]
path = "models/tiny"

[[task]]
name = "sum"
kind = "generation"
train = "tasks/sum-train.jsonl"
test = "tasks/sum-test.jsonl"
)";

StreamConfig parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return stream_config_parse(text, kSource, kBase, overrides);
}

// Parsing must fail with "[config] WHERE: " followed by a message holding each of `parts`.
void expect_error(const std::string& text, const std::string& where, std::initializer_list<std::string> parts,
                  const std::vector<std::string>& overrides = {}) {
  SCOPED_TRACE("the stream:\n" + text);
  test::expect_error_with([&] { parse(text, overrides); }, "[config] " + where + ": ", parts);
}

TEST(StreamConfig, DefaultsFillEveryKeyNotGiven) {
  const StreamConfig config = parse(kMinimal);
  EXPECT_EQ(config.source, kSource);
  EXPECT_EQ(config.run.name, "demo");  // the stream file's stem
  EXPECT_EQ(config.run.out, "runs");
  EXPECT_EQ(config.run.seed, 0u);
  EXPECT_EQ(config.run.device, "auto");
  EXPECT_EQ(config.model.init, "");
  EXPECT_EQ(config.model.tokenizer, "");
  EXPECT_EQ(config.model.dtype, DType::Auto);
  EXPECT_EQ(config.model.save, SaveFormat::Full);
  EXPECT_EQ(config.method.name, "seqft");
  EXPECT_TRUE(config.method.options.values().empty());
  EXPECT_EQ(config.train.epochs, 1);
  EXPECT_EQ(config.train.max_steps, 0);
  EXPECT_EQ(config.train.batch_size, 8);
  EXPECT_EQ(config.train.grad_accum, 1);
  EXPECT_DOUBLE_EQ(config.train.lr, 1e-4);
  EXPECT_EQ(config.train.schedule, Schedule::Constant);
  EXPECT_EQ(config.train.head, Head::Linear);
  EXPECT_EQ(config.eval.split, EvalSplit::Test);
  EXPECT_DOUBLE_EQ(config.train.clip_norm, 1.0);
  EXPECT_EQ(config.train.max_length, 256);
  EXPECT_EQ(config.train.log_every, 10);
  ASSERT_EQ(config.tasks.size(), 1u);
  const TaskConfig& task = config.tasks[0];
  EXPECT_EQ(task.template_, "{input}\n");
  EXPECT_EQ(task.metric, "exact_match");
  EXPECT_EQ(task.valid, "");
  EXPECT_TRUE(task.classes.empty());
  EXPECT_EQ(task.max_train, 0);
  EXPECT_EQ(config.eval.batch_size, 16);
  EXPECT_EQ(config.eval.max_new_tokens, 32);
  EXPECT_TRUE(config.eval.forward_transfer);
  EXPECT_EQ(config.eval.general_text, "");
  EXPECT_EQ(config.eval.general_max_tokens, 20000);
}

TEST(StreamConfig, EveryKeyIsRead) {
  const StreamConfig config = parse(R"(
[run]
name = "r1"
out = "out"
seed = 7
device = "cuda:1"
[model]
init = "/m/config.json"
tokenizer = "/m/tokenizer.json"
dtype = "bfloat16"
save = "adapters"
[method]
name = "replay"
[train]
epochs = 0
max_steps = 500
batch_size = 4
grad_accum = 2
lr = 3e-4
weight_decay = 0.01
beta1 = 0.8
beta2 = 0.95
eps = 1e-6
schedule = "cosine"
warmup_ratio = 0.1
clip_norm = 0
max_length = 128
checkpoint_every = 100
log_every = 5
[[task]]
name = "fashion"
kind = "image-classification"
train = "/d/train-images"
train_labels = "/d/train-labels"
test = "/d/test-images"
test_labels = "/d/test-labels"
valid = "/d/valid-images"
classes = [0, 1]
template = "Q: {input}\nA:"
metric = "accuracy"
max_train = 100
max_test = 50
max_new_tokens = 4
[eval]
batch_size = 2
max_new_tokens = 8
forward_transfer = false
general_text = "/t/wiki.txt"
general_max_tokens = 1000
)");
  EXPECT_EQ(std::tie(config.run.name, config.run.out, config.run.seed, config.run.device),
            std::make_tuple("r1", "out", uint64_t{7}, "cuda:1"));
  EXPECT_EQ(
      std::tie(config.model.path, config.model.init, config.model.tokenizer, config.model.dtype, config.model.save),
      std::make_tuple("", "/m/config.json", "/m/tokenizer.json", DType::BFloat16, SaveFormat::Adapters));
  EXPECT_EQ(config.method.name, "replay");
  const TrainConfig& t = config.train;
  EXPECT_EQ(std::tie(t.epochs, t.max_steps, t.batch_size, t.grad_accum, t.max_length, t.checkpoint_every, t.log_every),
            std::make_tuple(0, 500, 4, 2, 128, 100, 5));
  EXPECT_EQ(std::tie(t.lr, t.weight_decay, t.beta1, t.beta2, t.eps, t.warmup_ratio, t.clip_norm),
            std::make_tuple(3e-4, 0.01, 0.8, 0.95, 1e-6, 0.1, 0.0));
  EXPECT_EQ(t.schedule, Schedule::Cosine);
  const TaskConfig& k = config.tasks.at(0);
  EXPECT_EQ(std::tie(k.name, k.kind, k.train, k.train_labels, k.test, k.test_labels, k.valid),
            std::make_tuple("fashion", TaskKind::ImageClassification, "/d/train-images", "/d/train-labels",
                            "/d/test-images", "/d/test-labels", "/d/valid-images"));
  EXPECT_EQ(k.classes, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(k.template_, "Q: {input}\nA:");
  EXPECT_EQ(std::tie(k.metric, k.max_train, k.max_test, k.max_new_tokens), std::make_tuple("accuracy", 100, 50, 4));
  const EvalConfig& e = config.eval;
  EXPECT_EQ(std::tie(e.batch_size, e.max_new_tokens, e.forward_transfer, e.general_text, e.general_max_tokens),
            std::make_tuple(2, 8, false, "/t/wiki.txt", 1000));
}

TEST(StreamConfig, MetricDefaultsByKind) {
  const StreamConfig config = parse(R"(
[model]
path = "/m"
[[task]]
name = "a"
kind = "text-classification"
train = "a.jsonl"
test = "a-test.jsonl"
[[task]]
name = "b"
kind = "text"
train = "b.txt"
[[task]]
name = "c"
kind = "image-classification"
train = "i"
train_labels = "l"
test = "ti"
test_labels = "tl"
classes = [3]
)");
  EXPECT_EQ(config.tasks[0].metric, "accuracy");
  EXPECT_EQ(config.tasks[1].metric, "perplexity");
  EXPECT_EQ(config.tasks[1].test, "");  // kind text needs no test set
  EXPECT_EQ(config.tasks[2].metric, "accuracy");
}

TEST(StreamConfig, RelativePathsResolveAgainstTheStreamFolder) {
  const StreamConfig config = parse(R"(
[model]
path = "../models/./tiny/"
tokenizer = "/abs/tokenizer.json"
[[task]]
name = "sum"
kind = "generation"
train = "tasks/sum-train.jsonl"
test = "tasks/../tasks/sum-test.jsonl"
[eval]
general_text = "wiki.txt"
)");
  EXPECT_EQ(config.model.path, "/data/models/tiny/");
  EXPECT_EQ(config.model.init, "");  // empty stays empty
  EXPECT_EQ(config.model.tokenizer, "/abs/tokenizer.json");
  EXPECT_EQ(config.tasks[0].train, "/data/streams/tasks/sum-train.jsonl");
  EXPECT_EQ(config.tasks[0].test, "/data/streams/tasks/sum-test.jsonl");
  EXPECT_EQ(config.tasks[0].valid, "");
  EXPECT_EQ(config.eval.general_text, "/data/streams/wiki.txt");
  EXPECT_EQ(config.run.out, "runs");  // not a stream-relative path: the run folder's parent, from where retain runs
}

TEST(StreamConfig, UnknownKeysNameTheKeyTheFileAndTheKnownKeys) {
  expect_error(
      kMinimal + "[train]\nlrr = 1\n", kSource,
      {"[train] has no key 'lrr' (keys: epochs, max_steps, batch_size, grad_accum, lr,", "log_every, zero, head)"});
  expect_error(kMinimal + "[run]\nsed = 1\n", kSource, {"[run] has no key 'sed' (keys: name, out, seed, device)"});
  expect_error(kMinimal + "[eval]\nbatch = 1\n", kSource, {"[eval] has no key 'batch'"});
  expect_error("[model]\npath = \"m\"\nbogus = 1\n" + kMinimal.substr(kMinimal.find("[[task]]")), kSource,
               {"[model] has no key 'bogus' (keys: path, init, tokenizer, dtype, save, gguf_type)"});
  expect_error(kMinimal + "[[task]]\nname = \"b\"\nkind = \"text\"\ntrian = \"x\"\n", kSource,
               {"[[task]] #2 ('b') has no key 'trian' (keys: name, kind, train,", "template,"});
  expect_error(kMinimal + "[optimizer]\nlr = 1\n", kSource, {"no section [optimizer]", "run, model, method"});
  expect_error("seed = 1\n" + kMinimal, kSource, {"no section [seed]"});
}

TEST(StreamConfig, WrongTypesNameTheKeyTheFileAndTheType) {
  expect_error(kMinimal + "[train]\nlr = \"fast\"\n", kSource,
               {"[train] key 'lr' must be a number, got string 'fast'"});
  expect_error(kMinimal + "[train]\nepochs = 1.5\n", kSource,
               {"[train] key 'epochs' must be an integer, got float 1.5"});
  expect_error(kMinimal + "[eval]\nforward_transfer = 1\n", kSource,
               {"[eval] key 'forward_transfer' must be true or false, got integer 1"});
  expect_error(kMinimal + "[run]\nname = 3\n", kSource, {"[run] key 'name' must be a string, got integer 3"});
  expect_error(kMinimal + "[run]\nseed = -1\n", kSource, {"[run] key 'seed' must be 0 or more"});
  expect_error(kMinimal + "[method]\nweights = { a = 1 }\n", kSource,
               {"[method] key 'weights' must be a boolean, a number, a string or an array of numbers, got table"});
  expect_error(kMinimal + "[method]\nlayers = [1, \"a\"]\n", kSource, {"[method] key 'layers'", "got array"});
  expect_error(kMinimal + "[method]\nname = 1\n", kSource, {"[method] key 'name' must be a string"});
  expect_error(kMinimal + "[[task]]\nname = \"f\"\nkind = \"image-classification\"\nclasses = [\"shirt\"]\n", kSource,
               {"[[task]] #2 ('f') key 'classes' must be an array of integers, got an element string 'shirt'"});
  expect_error("train = 3\n" + kMinimal, kSource, {"'train' must be a table ([train]), got integer 3"});
  expect_error("task = 3\n[model]\npath = \"m\"\n", kSource,
               {"'task' must be an array of tables ([[task]]), got integer 3"});
  expect_error("[model]\npath = \"m\"\n[task]\nname = \"a\"\n", kSource,
               {"'task' must be an array of tables ([[task]]), got table"});
}

TEST(StreamConfig, AnIntegerIsANumber) { EXPECT_DOUBLE_EQ(parse(kMinimal + "[train]\nlr = 1\n").train.lr, 1.0); }

TEST(StreamConfig, SyntaxErrorsNameTheLineAndColumn) {
  expect_error("[model]\npath = \"m\"\nlr = = 3\n", kSource, {"invalid TOML at line 3, column "});
}

TEST(StreamConfig, ValuesAreChecked) {
  const std::string task = kMinimal.substr(kMinimal.find("[[task]]"));
  expect_error(kMinimal + "[train]\nlr = 0\n", kSource, {"[train] key 'lr' must be a number > 0, got 0"});
  expect_error(kMinimal + "[train]\nlr = nan\n", kSource, {"[train] key 'lr' must be a number > 0"});
  expect_error(kMinimal + "[train]\nbatch_size = 0\n", kSource, {"[train] key 'batch_size' must be 1 or more, got 0"});
  expect_error(kMinimal + "[train]\ngrad_accum = 0\n", kSource, {"key 'grad_accum' must be 1 or more"});
  expect_error(kMinimal + "[train]\nwarmup_ratio = 1.0\n", kSource, {"key 'warmup_ratio' must be in [0, 1), got 1"});
  expect_error(kMinimal + "[train]\nepochs = 0\n", kSource,
               {"[train] trains nothing: set epochs >= 1 or max_steps > 0"});
  expect_error(kMinimal + "[train]\nschedule = \"linear\"\n", kSource,
               {"[train] key 'schedule' must be one of constant, cosine, got 'linear'"});
  expect_error(kMinimal + "[train]\nbeta2 = 1\n", kSource, {"key 'beta2' must be in [0, 1)"});
  expect_error(kMinimal + "[run]\ndevice = \"gpu\"\n", kSource,
               {"[run] key 'device' must be auto, cpu, cuda or cuda:N"});
  expect_error(kMinimal + "[run]\nname = \"a/b\"\n", kSource, {"[run] key 'name' must be a folder name"});
  expect_error(kMinimal + "[eval]\nbatch_size = 0\n", kSource, {"[eval] key 'batch_size' must be 1 or more"});
  expect_error("[model]\npath = \"m\"\ndtype = \"float16\"\n" + task, kSource,
               {"[model] key 'dtype' must be one of auto, float32, bfloat16, mixed, got 'float16'"});
  expect_error("[model]\npath = \"m\"\nsave = \"all\"\n" + task, kSource,
               {"[model] key 'save' must be one of full, gguf, adapters, none"});
  expect_error("[model]\npath = \"m\"\nsave = \"gguf\"\ngguf_type = \"q4_k\"\n" + task, kSource,
               {"[model] key 'gguf_type' must be one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, got 'q4_k'"});
  expect_error(task, kSource, {"[model] needs 'path'", "or 'init'"});
  expect_error("[model]\npath = \"m\"\ninit = \"c.json\"\n" + task, kSource, {"[model] sets both 'path' and 'init'"});
  expect_error("[method]\nname = \"\"\n" + kMinimal, kSource, {"[method] key 'name' must be a method name"});
}

TEST(StreamConfig, TasksAreChecked) {
  const std::string model = "[model]\npath = \"m\"\n";
  expect_error(model, kSource, {"the stream has no [[task]]"});
  expect_error(model + "[[task]]\nkind = \"text\"\ntrain = \"t\"\n", kSource, {"[[task]] #1 needs a 'name'"});
  expect_error(model + "[[task]]\nname = \"a\"\ntrain = \"t\"\n", kSource,
               {"[[task]] #1 ('a') needs a 'kind' (generation,"});
  expect_error(
      model + "[[task]]\nname = \"a\"\nkind = \"chat\"\n", kSource,
      {"[[task]] #1 ('a') key 'kind' must be one of generation, text-classification, image-classification, text, "
       "got 'chat'"});
  expect_error(model + "[[task]]\nname = \"a\"\nkind = \"generation\"\ntrain = \"t\"\n", kSource,
               {"[[task]] #1 ('a') needs 'test' (kind generation)"});
  expect_error(model + "[[task]]\nname = \"a\"\nkind = \"text\"\n", kSource,
               {"[[task]] #1 ('a') needs 'train' (kind text)"});
  expect_error(model +
                   "[[task]]\nname = \"a\"\nkind = \"image-classification\"\ntrain = \"i\"\ntest = \"t\"\n"
                   "train_labels = \"l\"\ntest_labels = \"tl\"\n",
               kSource, {"[[task]] #1 ('a') needs 'classes' (kind image-classification)"});
  expect_error(model +
                   "[[task]]\nname = \"a\"\nkind = \"image-classification\"\ntrain = \"i\"\ntest = \"t\"\n"
                   "test_labels = \"tl\"\nclasses = [1]\n",
               kSource, {"needs 'train_labels'"});
  expect_error(model +
                   "[[task]]\nname = \"a\"\nkind = \"image-classification\"\ntrain = \"i\"\ntest = \"t\"\n"
                   "train_labels = \"l\"\ntest_labels = \"tl\"\nclasses = [1, 2, 1]\n",
               kSource, {"key 'classes' lists label 1 twice"});
  expect_error(model + "[[task]]\nname = \"a\"\nkind = \"text\"\ntrain = \"t\"\nclasses = [1]\n", kSource,
               {"[[task]] #1 ('a') key 'classes' is only for kind image-classification"});
  expect_error(model + "[[task]]\nname = \"a\"\nkind = \"text\"\ntrain = \"t\"\nmetric = \"bleu\"\n", kSource,
               {"key 'metric' must be one of exact_match, accuracy, rouge_l, perplexity, got 'bleu'"});
  expect_error(model + "[[task]]\nname = \"a\"\nkind = \"text\"\ntrain = \"t\"\nmetric = \"accuracy\"\n", kSource,
               {"key 'metric' must be perplexity for kind text, got 'accuracy'"});
  expect_error(kMinimal + "template = \"Q: {text}\"\n", kSource,
               {"[[task]] #1 ('sum') key 'template' must be a prompt holding {input}, got 'Q: {text}'"});
  expect_error(model +
                   "[[task]]\nname = \"a\"\nkind = \"text-classification\"\ntrain = \"t\"\ntest = \"u\"\n"
                   "template = \"Review:\"\n",
               kSource, {"[[task]] #1 ('a') key 'template' must be a prompt holding {text} or {input}"});
  expect_error(kMinimal + "max_train = -1\n", kSource, {"key 'max_train' must be 0 or more"});
  expect_error(kMinimal + "[[task]]\nname = \"sum\"\nkind = \"text\"\ntrain = \"t\"\n", kSource,
               {"[[task]] #2 ('sum') key 'name' repeats the name of [[task]] #1"});
}

TEST(StreamConfig, MethodKeysBecomeTypedOptions) {
  StreamConfig config = parse(kMinimal + R"(
[method]
name = "ewc"
lambda = 0.5
samples = 200
online = true
mode = "diag"
decay = [1, 0.5, 0.25]
empty = []
)");
  EXPECT_EQ(config.method.name, "ewc");
  Options& options = config.method.options;
  EXPECT_EQ(options.values().size(), 6u);
  EXPECT_DOUBLE_EQ(options.get_double("lambda", 0), 0.5);
  EXPECT_EQ(options.get_int("samples", 0), 200);
  EXPECT_TRUE(options.get_bool("online", false));
  EXPECT_EQ(options.get_string("mode", ""), "diag");
  EXPECT_EQ(options.get_doubles("decay", {}), (std::vector<double>{1, 0.5, 0.25}));
  EXPECT_EQ(options.get_doubles("empty", {1}), std::vector<double>{});
}

TEST(StreamConfig, OverridesApplyBeforeChecking) {
  StreamConfig config =
      parse(kMinimal + "[[task]]\nname = \"lm\"\nkind = \"text\"\ntrain = \"t.txt\"\n",
            {"train.lr=3e-4", "run.name=x", "method.lambda=0.5", "task.2.max_train=100", "task.sum.max_test=7",
             "train.schedule=cosine", "eval.forward_transfer=false", "task.lm.classes=[]", "method.name=ewc"});
  EXPECT_DOUBLE_EQ(config.train.lr, 3e-4);
  EXPECT_EQ(config.train.schedule, Schedule::Cosine);
  EXPECT_EQ(config.run.name, "x");
  EXPECT_EQ(config.method.name, "ewc");
  EXPECT_DOUBLE_EQ(config.method.options.get_double("lambda", 0), 0.5);
  EXPECT_EQ(config.tasks[1].max_train, 100);
  EXPECT_EQ(config.tasks[0].max_test, 7);
  EXPECT_FALSE(config.eval.forward_transfer);
}

TEST(StreamConfig, OverridesOfStringKeysTakeTheTextAsWritten) {
  EXPECT_EQ(parse(kMinimal, {"run.name=2024"}).run.name, "2024");
  EXPECT_EQ(parse(kMinimal, {"run.name=\"quoted\""}).run.name, "quoted");
  EXPECT_EQ(parse(kMinimal, {"run.device=cuda:0"}).run.device, "cuda:0");
  EXPECT_EQ(parse(kMinimal, {"task.1.template=Q: {input} = ?"}).tasks[0].template_, "Q: {input} = ?");
  EXPECT_EQ(parse(kMinimal, {"method.tag=2024"}).method.options.get_int("tag", 0), 2024);  // method keys: TOML typed
  EXPECT_EQ(parse(kMinimal, {"method.mode=diag"}).method.options.get_string("mode", ""), "diag");
  // Words (enums) are string keys too.
  EXPECT_EQ(parse(kMinimal, {"train.head=per-task"}).train.head, Head::PerTask);
  EXPECT_EQ(parse(kMinimal, {"model.save=none"}).model.save, SaveFormat::None);
}

TEST(StreamConfig, OverridePathsResolveAgainstTheCurrentFolder) {
  const StreamConfig config = parse(kMinimal, {"model.path=models/other", "task.1.valid=v.jsonl"});
  EXPECT_EQ(config.model.path, (fs::current_path() / "models/other").lexically_normal().string());
  EXPECT_EQ(config.tasks[0].valid, (fs::current_path() / "v.jsonl").lexically_normal().string());
  EXPECT_EQ(config.tasks[0].train, "/data/streams/tasks/sum-train.jsonl");
}

TEST(StreamConfig, OverrideErrorsNameTheOverride) {
  expect_error(kMinimal, "--set train.lrr=1", {"[train] has no key 'lrr' (keys: epochs,"}, {"train.lrr=1"});
  expect_error(kMinimal, "--set train.lr=fast", {"[train] key 'lr' must be a number, got string 'fast'"},
               {"train.lr=fast"});
  expect_error(kMinimal, "--set train.batch_size=0", {"[train] key 'batch_size' must be 1 or more"},
               {"train.batch_size=0"});
  expect_error(kMinimal, "--set task.1.kind=chat", {"[[task]] #1 ('sum') key 'kind' must be one of"},
               {"task.1.kind=chat"});
  expect_error(kMinimal, "--set model.init=c.json", {"[model] sets both 'path' and 'init'"}, {"model.init=c.json"});
  expect_error(kMinimal, "--set task.3.max_train=1", {"the stream has no task '3' (tasks: 1 'sum')"},
               {"task.3.max_train=1"});
  expect_error(kMinimal, "--set task.nope.max_train=1", {"the stream has no task 'nope'"}, {"task.nope.max_train=1"});
  expect_error(kMinimal, "--set task.max_train=1", {"name the task, as in task.2.max_train or task.NAME.max_train"},
               {"task.max_train=1"});
  expect_error(kMinimal, "--set optim.lr=1", {"no section [optim]"}, {"optim.lr=1"});
  expect_error(kMinimal, "--set lr=1", {"expected section.key=value"}, {"lr=1"});
  expect_error(kMinimal, "--set train.lr", {"expected section.key=value"}, {"train.lr"});
  // A value the file set is still named by the file when another key was overridden.
  expect_error(kMinimal + "[train]\nlr = 0\n", kSource, {"key 'lr' must be a number > 0"}, {"train.epochs=2"});
}

TEST(StreamConfig, ResolvedTomlReadsBackToTheSameConfig) {
  StreamConfig config = parse(kMinimal + R"(
[run]
name = "round trip"
seed = 12345
[method]
name = "replay"
fraction = 0.1
"odd key" = "a \"quoted\"\tvalue\\ with\nnewline"
flags = true
count = 3
weights = [0.5, 1, 3e-4]
tiny = 1.5e-7
huge = -1e20
sum = 0.30000000000000004
[train]
lr = 3e-4
weight_decay = 0.1
eps = 1e-12
warmup_ratio = 0.03
[[task]]
name = "fashion"
kind = "image-classification"
train = "i"
train_labels = "l"
test = "ti"
test_labels = "tl"
classes = [4, 0, 9]
[[task]]
name = "cls"
kind = "text-classification"
train = "c.jsonl"
test = "c-test.jsonl"
template = "Review: {text}\nSentiment:"
max_new_tokens = 3
)");
  config.method.options.get_double("recorded_default", 0.25);  // a default a method read is written too
  const std::string text = stream_config_to_toml(config);
  const StreamConfig back = stream_config_parse(text, "elsewhere/config.toml", "/elsewhere");

  const auto run = [](const RunConfig& r) { return std::tie(r.name, r.out, r.seed, r.device); };
  const auto model = [](const ModelConfig& m) { return std::tie(m.path, m.init, m.tokenizer, m.dtype, m.save); };
  const auto train = [](const TrainConfig& t) {
    return std::tie(t.epochs, t.max_steps, t.batch_size, t.grad_accum, t.lr, t.weight_decay, t.beta1, t.beta2, t.eps,
                    t.schedule, t.warmup_ratio, t.clip_norm, t.max_length, t.checkpoint_every, t.log_every);
  };
  const auto task = [](const TaskConfig& k) {
    return std::tie(k.name, k.kind, k.train, k.test, k.valid, k.train_labels, k.test_labels, k.classes, k.template_,
                    k.metric, k.max_train, k.max_test, k.max_new_tokens);
  };
  const auto eval = [](const EvalConfig& e) {
    return std::tie(e.batch_size, e.max_new_tokens, e.forward_transfer, e.general_text, e.general_max_tokens);
  };
  EXPECT_EQ(run(back.run), run(config.run));
  EXPECT_EQ(model(back.model), model(config.model));
  EXPECT_EQ(back.method.name, config.method.name);
  EXPECT_EQ(back.method.options.values(), config.method.options.values());
  EXPECT_EQ(train(back.train), train(config.train));
  ASSERT_EQ(back.tasks.size(), config.tasks.size());
  for (size_t i = 0; i < config.tasks.size(); ++i) EXPECT_EQ(task(back.tasks[i]), task(config.tasks[i])) << i;
  EXPECT_EQ(eval(back.eval), eval(config.eval));
  const auto body = [](const std::string& toml) { return toml.substr(toml.find('\n')); };  // all but the source line
  EXPECT_EQ(body(stream_config_to_toml(back)), body(text));

  // Every key of every section is written, defaults included, with readable numbers.
  for (const std::string line : {"[run]\n",
                                 "out = \"runs\"\n",
                                 "device = \"auto\"\n",
                                 "init = \"\"\n",
                                 "[method]\nname = \"replay\"\n",
                                 "recorded_default = 0.25\n",
                                 "lr = 0.0003\n",
                                 "eps = 1e-12\n",
                                 "weight_decay = 0.1\n",
                                 "clip_norm = 1.0\n",
                                 "beta2 = 0.999\n",
                                 "schedule = \"constant\"\n",
                                 "template = \"{input}\\n\"\n",
                                 "classes = [4, 0, 9]\n",
                                 "metric = \"exact_match\"\n",
                                 "general_text = \"\"\n",
                                 "forward_transfer = true\n",
                                 "weights = [0.5, 1.0, 0.0003]\n",
                                 "\"odd key\" = ",
                                 "tiny = 1.5e-07\n",
                                 "huge = -1e+20\n",
                                 "sum = 0.30000000000000004\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "'" << line << "' not in:\n" << text;
  }
}

// [retention] is an image-classification task table: read and checked as a [[task]], its paths
// resolved, overridable with --set retention.KEY, written back by the resolved TOML; absent, none.
TEST(StreamConfig, RetentionIsAnImageTaskTable) {
  EXPECT_FALSE(parse(kMinimal).retention.has_value());
  const std::string retention = R"(
[retention]
name = "mnist"
kind = "image-classification"
train = "mnist/train-images.idx"
train_labels = "mnist/train-labels.idx"
test = "mnist/test-images.idx"
test_labels = "mnist/test-labels.idx"
classes = [0, 1, 2]
)";
  const auto config = parse(kMinimal + retention, {"retention.max_test=50"});
  ASSERT_TRUE(config.retention.has_value());
  EXPECT_EQ(config.retention->name, "mnist");
  EXPECT_EQ(config.retention->train, kBase + "/mnist/train-images.idx");
  EXPECT_EQ(config.retention->classes, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(config.retention->max_test, 50);
  EXPECT_EQ(config.retention->metric, "accuracy");
  const auto back = stream_config_parse(stream_config_to_toml(config), "elsewhere/config.toml", "/elsewhere");
  ASSERT_TRUE(back.retention.has_value());
  EXPECT_EQ(back.retention->test_labels, config.retention->test_labels);
  EXPECT_EQ(back.retention->max_test, 50);

  expect_error(kMinimal + "[retention]\nname = \"sum\"\nkind = \"generation\"\ntrain = \"a\"\ntest = \"b\"\n", kSource,
               {"[retention] key 'kind' must be image-classification"});
  expect_error(kMinimal + retention, "--set retention.lr=1", {"[retention] has no key 'lr'"}, {"retention.lr=1"});
  expect_error(kMinimal + "[retention]\nname = \"x\"\n", kSource, {"[retention] needs a 'kind'"});
}

TEST(StreamConfig, LoadReadsTheFileAndResolvesAgainstItsFolder) {
  const fs::path dir = test::scratch_dir("stream-config-load");
  {
    std::ofstream out(dir / "my-stream.toml");
    out << kMinimal;
  }
  const StreamConfig config = stream_config_load((dir / "my-stream.toml").string(), {"train.epochs=3"});
  EXPECT_EQ(config.run.name, "my-stream");
  EXPECT_EQ(config.train.epochs, 3);
  EXPECT_EQ(config.model.path, (dir / "models/tiny").lexically_normal().string());
  EXPECT_EQ(config.tasks[0].train, (dir / "tasks/sum-train.jsonl").lexically_normal().string());

  const std::string missing = (dir / "missing.toml").string();
  EXPECT_EQ(error_of([&] { stream_config_load(missing); }),
            "[config] " + missing + ": cannot open the file (No such file or directory)");
}

TEST(StreamConfigOptions, GettersRecordTheDefaultsTheyReturn) {
  Options options("s.toml", "method");
  options.set("lambda", int64_t{2});
  EXPECT_DOUBLE_EQ(options.get_double("lambda", 0.5), 2.0);  // an integer is a number
  EXPECT_EQ(options.get_int("samples", 100), 100);
  EXPECT_EQ(options.get_string("mode", "diag"), "diag");
  EXPECT_FALSE(options.get_bool("online", false));
  EXPECT_EQ(options.get_doubles("decay", {0.9}), std::vector<double>{0.9});
  EXPECT_EQ(options.values().at("samples"), OptionValue(int64_t{100}));
  EXPECT_EQ(options.values().at("mode"), OptionValue(std::string("diag")));
  EXPECT_EQ(options.values().at("decay"), OptionValue(std::vector<double>{0.9}));
  EXPECT_NO_THROW(options.reject_unused("ewc"));
}

TEST(StreamConfigOptions, WrongTypesNameTheKeyAndTheFile) {
  Options options("s.toml", "method");
  options.set("lambda", std::string("big"));
  options.set("samples", 0.5);
  options.set("online", int64_t{1});
  options.set("decay", 0.9);
  options.set("mode", true);
  EXPECT_EQ(error_of([&] { options.get_double("lambda", 0); }),
            "[config] s.toml: [method] key 'lambda' must be a number, got string 'big'");
  EXPECT_EQ(error_of([&] { options.get_int("samples", 0); }),
            "[config] s.toml: [method] key 'samples' must be an integer, got float 0.5");
  EXPECT_EQ(error_of([&] { options.get_bool("online", false); }),
            "[config] s.toml: [method] key 'online' must be true or false, got integer 1");
  EXPECT_EQ(error_of([&] { options.get_doubles("decay", {}); }),
            "[config] s.toml: [method] key 'decay' must be an array of numbers, got float 0.9");
  EXPECT_EQ(error_of([&] { options.get_string("mode", ""); }),
            "[config] s.toml: [method] key 'mode' must be a string, got boolean true");
}

enum class Fruit { Apple, Pear };
}  // namespace
template <>
struct Words<Fruit> {
  static constexpr std::pair<Fruit, std::string_view> list[] = {{Fruit::Apple, "apple"}, {Fruit::Pear, "pear"}};
};
namespace {

TEST(StreamConfigOptions, WordsReadAsTheirEnumAndRecordTheirDefault) {
  Options options("s.toml", "method");
  options.set("fruit", std::string("pear"));
  options.set("bad", std::string("plum"));
  EXPECT_EQ(options.get_word("fruit", Fruit::Apple), Fruit::Pear);
  EXPECT_EQ(options.get_word("other", Fruit::Apple), Fruit::Apple);
  EXPECT_EQ(options.values().at("other"), OptionValue(std::string("apple")));
  EXPECT_EQ(error_of([&] { options.get_word("bad", Fruit::Apple); }),
            "[config] s.toml: [method] key 'bad' must be one of apple, pear, got 'plum'");
}

TEST(StreamConfigOptions, UnreadKeysAreRefusedByName) {
  Options options("s.toml", "method");
  options.set("lamda", 0.5);
  EXPECT_EQ(error_of([&] { options.reject_unused("seqft"); }),
            "[config] s.toml: [method] has no key 'lamda' (method 'seqft' reads: no keys)");
  options.get_double("lambda", 1.0);
  options.get_int("samples", 10);
  EXPECT_EQ(error_of([&] { options.reject_unused("ewc"); }),
            "[config] s.toml: [method] has no key 'lamda' (method 'ewc' reads: lambda, samples)");
}

}  // namespace
}  // namespace retain::config
