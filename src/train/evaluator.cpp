// evaluator.cpp - see evaluator.h.
#include "train/evaluator.h"

#include <algorithm>
#include <cmath>

#include "error.h"
#include "eval/scorers.h"
#include "model/generate.h"
#include "nn/loss.h"
#include "train/progress.h"

namespace retain::train {

namespace {
constexpr size_t kSamples = 3;
}

Evaluator::Evaluator(model::Model& model, const tok::Tokenizer* tokenizer, EvalOptions options, torch::Device device,
                     dist::Comm* comm)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      device_(device),
      special_(special_tokens(model)),
      comm_(comm != nullptr && comm->distributed() ? comm : nullptr) {}

bool Evaluator::leader() const { return comm_ == nullptr || comm_->rank() == 0; }

bool Evaluator::mine(size_t index) const {
  return comm_ == nullptr || static_cast<int64_t>(index % static_cast<size_t>(comm_->size())) == comm_->rank();
}

double Evaluator::summed(double value, const std::string& what) {
  if (comm_ == nullptr) return value;
  auto total = torch::tensor({value}, torch::kDouble);
  comm_->sum_(total, what);
  return total.item<double>();
}

TaskScore Evaluator::score(const data::TaskData& task, const std::vector<int64_t>& allowed_classes) {
  torch::NoGradGuard no_grad;
  model_.eval();
  TaskScore result;
  const auto kind = task.config.kind;
  if (kind == config::TaskKind::ImageClassification) {
    result = score_images(task, allowed_classes);
  } else if (kind == config::TaskKind::Text) {
    // Held-out text when the task has some, else its training text (how well it is still known).
    const bool test = !task.test.text.empty(), valid = !test && !task.valid.text.empty();
    const auto& docs = test ? task.test.text : valid ? task.valid.text : task.train.text;
    result.score = perplexity(docs, 0, test ? task.config.test : valid ? task.config.valid : task.config.train);
    result.examples = static_cast<int64_t>(docs.size());
  } else {
    result = score_generation(task);
  }
  model_.train();
  return result;
}

TaskScore Evaluator::score_generation(const data::TaskData& task) {
  TaskScore result;
  const auto& examples = task.test.text;
  const int64_t max_new = task.config.max_new_tokens > 0 ? task.config.max_new_tokens : options_.max_new_tokens;
  const int64_t prompt_room = std::max<int64_t>(1, options_.max_length - max_new);
  double total = 0;
  WorkProgress progress("[eval] task '" + task.config.name + "'", static_cast<int64_t>(examples.size()), "examples",
                        !leader());
  for (size_t begin = 0; begin < examples.size(); begin += options_.batch_size) {
    progress.done(static_cast<int64_t>(begin));
    if (!mine(begin / options_.batch_size)) continue;
    const auto end = std::min(examples.size(), begin + static_cast<size_t>(options_.batch_size));
    std::vector<std::vector<int32_t>> prompts;
    int64_t length = 0;
    for (size_t i = begin; i < end; ++i) {
      auto ids = tokenizer_->encode(examples[i].prompt, true);
      if (static_cast<int64_t>(ids.size()) > prompt_room) ids.erase(ids.begin(), ids.end() - prompt_room);
      length = std::max<int64_t>(length, ids.size());
      prompts.push_back(std::move(ids));
    }
    // Left padding, so every row's answer starts at the same position.
    const auto n = static_cast<int64_t>(prompts.size());
    auto ids = torch::full({n, length}, special_.pad, torch::kLong);
    auto mask = torch::zeros({n, length}, torch::kLong);
    auto ids_a = ids.accessor<int64_t, 2>();
    auto mask_a = mask.accessor<int64_t, 2>();
    for (int64_t row = 0; row < n; ++row) {
      const auto offset = length - static_cast<int64_t>(prompts[row].size());
      for (size_t j = 0; j < prompts[row].size(); ++j) {
        ids_a[row][offset + j] = prompts[row][j];
        mask_a[row][offset + j] = 1;
      }
    }
    model::GenerateOptions generate;
    generate.max_new_tokens = max_new;
    generate.eos_token_ids = special_.eos;
    generate.pad_token_id = special_.pad;
    auto out = model::generate_greedy(model_, ids.to(device_), mask.to(device_), generate).cpu();
    auto out_a = out.accessor<int64_t, 2>();
    // A decoder-only model's answer follows the prompt; an encoder-decoder's the decoder's start token.
    const int64_t answer_at = model_.kind() == model::ModelKind::CausalLM ? length : 1;
    for (int64_t row = 0; row < n; ++row) {
      std::vector<int32_t> answer;
      for (int64_t j = answer_at; j < out.size(1); ++j) {
        const auto id = out_a[row][j];
        if (std::find(special_.eos.begin(), special_.eos.end(), id) != special_.eos.end()) break;
        answer.push_back(static_cast<int32_t>(id));
      }
      const auto& example = examples[begin + row];
      const auto text = tokenizer_->decode(answer, true);
      total += eval::score(task.config.metric, text, example.target);
      if (result.samples.size() < kSamples) result.samples.push_back({example.prompt, text, example.target});
    }
  }
  total = summed(total, "scores of task '" + task.config.name + "'");
  result.examples = static_cast<int64_t>(examples.size());
  result.score = examples.empty() ? 0 : 100.0 * total / static_cast<double>(examples.size());
  return result;
}

TaskScore Evaluator::score_images(const data::TaskData& task, const std::vector<int64_t>& allowed_classes) {
  TaskScore result;
  const auto& images = task.test.images;
  const auto size = model_.config().get_int("image_size");
  const auto channels = model_.config().get_int("num_channels", 3);
  torch::Tensor blocked;  // -inf on the classes the prediction may not take
  int64_t correct = 0;
  WorkProgress progress("[eval] task '" + task.config.name + "'", images.size(), "images", !leader());
  for (int64_t begin = 0; begin < images.size(); begin += options_.batch_size) {
    progress.done(begin);
    if (!mine(static_cast<size_t>(begin / options_.batch_size))) continue;
    const auto end = std::min<int64_t>(images.size(), begin + options_.batch_size);
    std::vector<ImageRef> items;
    for (int64_t i = begin; i < end; ++i) items.push_back({&images, i});
    auto batch = image_batch(items, channels, size);
    auto labels = batch.labels;
    batch.labels = torch::Tensor();
    batch.pixel_values = batch.pixel_values.to(device_);
    auto out = model_.forward(batch);
    auto logits = prototypes_ != nullptr ? prototypes_->logits(out.features, out.logits.size(1))
                                         : out.logits.to(torch::kFloat).cpu();
    if (!allowed_classes.empty()) {
      if (!blocked.defined()) {
        blocked = torch::full({logits.size(1)}, -std::numeric_limits<float>::infinity());
        for (auto c : allowed_classes) {
          if (c < 0 || c >= logits.size(1)) {
            fail("eval", "task '", task.config.name, "': class ", c, " is outside the model's ", logits.size(1),
                 " labels");
          }
          blocked[c] = 0;
        }
      }
      logits = logits + blocked;
    }
    correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
  }
  const auto right = summed(static_cast<double>(correct), "scores of task '" + task.config.name + "'");
  result.examples = images.size();
  result.score = images.size() == 0 ? 0 : 100.0 * right / static_cast<double>(images.size());
  return result;
}

double Evaluator::perplexity(const std::vector<data::TextExample>& documents, int64_t max_tokens,
                             const std::string& source) {
  torch::NoGradGuard no_grad;
  model_.eval();
  auto blocks = tokenize_packed(*tokenizer_, documents, special_, options_.max_length);
  double nll = 0;
  int64_t tokens = 0;
  // The blocks scored: up to the batch in which max_tokens is reached.
  auto scored = static_cast<int64_t>(blocks.size());
  for (int64_t i = 0, seen = 0; max_tokens > 0 && i < scored; ++i) {
    seen += static_cast<int64_t>(blocks[static_cast<size_t>(i)].ids.size()) - 1;
    if (seen >= max_tokens) scored = std::min(scored, (i / options_.batch_size + 1) * options_.batch_size);
  }
  WorkProgress progress("[eval] perplexity of " + source, scored, "blocks", !leader());
  for (size_t begin = 0; begin < blocks.size(); begin += options_.batch_size) {
    progress.done(static_cast<int64_t>(begin));
    if (max_tokens > 0 && tokens >= max_tokens) break;
    const auto end = std::min(blocks.size(), begin + static_cast<size_t>(options_.batch_size));
    std::vector<const TokenizedExample*> rows;
    int64_t predicted = 0;
    for (size_t i = begin; i < end; ++i) {
      rows.push_back(&blocks[i]);
      predicted += static_cast<int64_t>(blocks[i].ids.size()) - 1;
    }
    tokens += predicted;
    if (!mine(begin / options_.batch_size)) continue;
    auto batch = causal_batch(rows, special_.pad);
    batch.input_ids = batch.input_ids.to(device_);
    batch.attention_mask = batch.attention_mask.to(device_);
    batch.labels = batch.labels.to(device_);
    nll += model_.forward(batch).loss.item<double>() * static_cast<double>(predicted);
  }
  nll = summed(nll, "perplexity");
  model_.train();
  if (tokens == 0) fail("eval", source, ": fewer than 2 tokens to score the perplexity on");
  return std::exp(nll / static_cast<double>(tokens));
}

double Evaluator::probe_accuracy(const std::vector<data::ProbeItem>& items, const std::string& source) {
  torch::NoGradGuard no_grad;
  model_.eval();
  const bool seq2seq = model_.kind() == model::ModelKind::Seq2SeqLM;
  // One row per choice: the question (what the encoder reads, for an encoder-decoder), then the
  // choice, whose tokens' log-probabilities are summed. A long question loses tokens from its start.
  std::vector<TokenizedExample> rows;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto question = tokenizer_->encode(items[i].question, true);
    for (const auto& choice : items[i].choices) {
      const auto answer = tokenizer_->encode(choice, false);
      if (answer.empty()) fail("eval", source, ": item ", i + 1, ": the choice \"", choice, "\" is no token");
      const auto room = seq2seq ? options_.max_length
                                : std::max<int64_t>(1, options_.max_length - static_cast<int64_t>(answer.size()));
      const auto kept = std::min<int64_t>(static_cast<int64_t>(question.size()), room);
      TokenizedExample row;
      row.ids.assign(question.end() - kept, question.end());
      row.prompt_length = kept;
      row.ids.insert(row.ids.end(), answer.begin(), answer.end());
      rows.push_back(std::move(row));
    }
  }
  auto log_likelihood = torch::zeros({static_cast<int64_t>(rows.size())}, torch::kDouble);
  auto sums_a = log_likelihood.accessor<double, 1>();
  const auto batch_rows = static_cast<size_t>(options_.batch_size);
  WorkProgress progress("[eval] probe " + source, static_cast<int64_t>(rows.size()), "choices", !leader());
  for (size_t begin = 0; begin < rows.size(); begin += batch_rows) {
    progress.done(static_cast<int64_t>(begin));
    if (!mine(begin / batch_rows)) continue;
    std::vector<const TokenizedExample*> part;
    for (size_t r = begin; r < std::min(rows.size(), begin + batch_rows); ++r) part.push_back(&rows[r]);
    auto batch = seq2seq ? seq2seq_batch(part, special_.pad) : causal_batch(part, special_.pad);
    batch.input_ids = batch.input_ids.to(device_);
    batch.attention_mask = batch.attention_mask.to(device_);
    auto labels = batch.labels.to(device_);
    // A decoder-only model scores from its logits alone (given labels it would also compute a loss
    // nobody reads); an encoder-decoder builds its decoder input from them.
    batch.labels = seq2seq ? labels : torch::Tensor();
    auto logits = model_.forward(batch).logits.to(torch::kFloat);
    if (!seq2seq) {  // position t predicts token t + 1
      logits = logits.narrow(1, 0, logits.size(1) - 1);
      labels = labels.narrow(1, 1, labels.size(1) - 1);
    }
    const auto scored = labels.ne(nn::kIgnoreIndex);
    const auto picked = torch::log_softmax(logits, -1).gather(2, labels.clamp_min(0).unsqueeze(2)).squeeze(2);
    const auto sums = picked.masked_fill(scored.logical_not(), 0).sum(1).to(torch::kDouble).cpu();
    log_likelihood.narrow(0, static_cast<int64_t>(begin), sums.size(0)).copy_(sums);
  }
  if (comm_ != nullptr) comm_->sum_(log_likelihood, "probe log-likelihoods");
  int64_t correct = 0;
  size_t row = 0;
  for (const auto& item : items) {
    size_t best = 0;
    for (size_t c = 1; c < item.choices.size(); ++c) {
      if (sums_a[static_cast<int64_t>(row + c)] > sums_a[static_cast<int64_t>(row + best)]) best = c;
    }
    if (static_cast<int64_t>(best) == item.answer) ++correct;
    row += item.choices.size();
  }
  model_.train();
  return items.empty() ? 0 : 100.0 * static_cast<double>(correct) / static_cast<double>(items.size());
}

}  // namespace retain::train
