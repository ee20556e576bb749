// batches.cpp - see batches.h.
#include "train/batches.h"

#include <algorithm>
#include <cstring>

#include "error.h"
#include "nn/loss.h"

namespace retain::train {

SpecialTokens special_tokens(const model::Model& model) {
  SpecialTokens special;
  special.eos = model.config().get_int_list("eos_token_id");
  const auto pad = model.config().get_int_list("pad_token_id");
  special.pad = !pad.empty() ? pad.front() : !special.eos.empty() ? special.eos.front() : 0;
  return special;
}

namespace {

std::vector<int64_t> encode(const tok::Tokenizer& tokenizer, const std::string& text, bool add_special) {
  auto ids = tokenizer.encode(text, add_special);
  return {ids.begin(), ids.end()};
}

}  // namespace

TokenizedExample tokenize_example(const tok::Tokenizer& tokenizer, const data::TextExample& example,
                                  const SpecialTokens& special, int64_t max_length) {
  auto prompt = encode(tokenizer, example.prompt, true);
  auto target = encode(tokenizer, example.target, prompt.empty());
  if (!special.eos.empty()) target.push_back(special.eos.front());
  // Keep at least half of max_length for the target; the prompt loses tokens from its start.
  const auto target_kept = std::min<int64_t>(static_cast<int64_t>(target.size()), std::max<int64_t>(1, max_length / 2));
  const auto prompt_kept = std::min<int64_t>(static_cast<int64_t>(prompt.size()), max_length - target_kept);
  TokenizedExample out;
  out.ids.assign(prompt.end() - prompt_kept, prompt.end());
  out.prompt_length = prompt_kept;
  const auto room = max_length - prompt_kept;
  out.ids.insert(out.ids.end(), target.begin(), target.begin() + std::min<int64_t>(room, target.size()));
  return out;
}

TokenizedExample tokenize_seq2seq_example(const tok::Tokenizer& tokenizer, const data::TextExample& example,
                                          const SpecialTokens& special, int64_t max_length) {
  auto source = encode(tokenizer, example.prompt, true);
  auto target = encode(tokenizer, example.target, false);
  if (!special.eos.empty()) target.push_back(special.eos.front());
  const auto source_kept = std::min<int64_t>(static_cast<int64_t>(source.size()), max_length);
  const auto target_kept = std::min<int64_t>(static_cast<int64_t>(target.size()), max_length);
  TokenizedExample out;
  out.ids.assign(source.end() - source_kept, source.end());
  out.prompt_length = source_kept;
  out.ids.insert(out.ids.end(), target.begin(), target.begin() + target_kept);
  return out;
}

std::vector<TokenizedExample> tokenize_packed(const tok::Tokenizer& tokenizer,
                                              const std::vector<data::TextExample>& documents,
                                              const SpecialTokens& special, int64_t max_length) {
  std::vector<int64_t> all;
  for (const auto& doc : documents) {
    auto ids = encode(tokenizer, doc.target, true);
    all.insert(all.end(), ids.begin(), ids.end());
    if (!special.eos.empty()) all.push_back(special.eos.front());
  }
  std::vector<TokenizedExample> blocks;
  // Blocks of max_length; a last partial block is kept when it has at least 2 tokens to learn from.
  for (size_t begin = 0; begin + 1 < all.size(); begin += max_length) {
    const auto end = std::min(all.size(), begin + static_cast<size_t>(max_length));
    blocks.push_back({std::vector<int64_t>(all.begin() + begin, all.begin() + end), 0});
  }
  return blocks;
}

namespace {

// n rows of input ids (pad), their mask (0) and labels (-100), for the batch builders to fill in.
model::Batch empty_text_batch(int64_t n, int64_t input_length, int64_t label_length, int64_t pad) {
  model::Batch batch;
  batch.input_ids = torch::full({n, input_length}, pad, torch::kLong);
  batch.attention_mask = torch::zeros({n, input_length}, torch::kLong);
  batch.labels = torch::full({n, label_length}, nn::kIgnoreIndex, torch::kLong);
  return batch;
}

}  // namespace

model::Batch causal_batch(const std::vector<const TokenizedExample*>& examples, int64_t pad) {
  int64_t length = 0;
  for (const auto* e : examples) length = std::max<int64_t>(length, e->ids.size());
  const auto n = static_cast<int64_t>(examples.size());
  auto batch = empty_text_batch(n, length, length, pad);
  auto ids_a = batch.input_ids.accessor<int64_t, 2>();
  auto mask_a = batch.attention_mask.accessor<int64_t, 2>();
  auto labels_a = batch.labels.accessor<int64_t, 2>();
  for (int64_t row = 0; row < n; ++row) {
    const auto& e = *examples[row];
    for (int64_t j = 0; j < static_cast<int64_t>(e.ids.size()); ++j) {
      ids_a[row][j] = e.ids[j];
      mask_a[row][j] = 1;
      if (j >= e.prompt_length) labels_a[row][j] = e.ids[j];
    }
  }
  return batch;
}

model::Batch seq2seq_batch(const std::vector<const TokenizedExample*>& examples, int64_t pad) {
  int64_t source_length = 0, target_length = 0;
  for (const auto* e : examples) {
    source_length = std::max(source_length, e->prompt_length);
    target_length = std::max<int64_t>(target_length, static_cast<int64_t>(e->ids.size()) - e->prompt_length);
  }
  const auto n = static_cast<int64_t>(examples.size());
  auto batch = empty_text_batch(n, source_length, target_length, pad);
  auto ids_a = batch.input_ids.accessor<int64_t, 2>();
  auto mask_a = batch.attention_mask.accessor<int64_t, 2>();
  auto labels_a = batch.labels.accessor<int64_t, 2>();
  for (int64_t row = 0; row < n; ++row) {
    const auto& e = *examples[row];
    for (int64_t j = 0; j < static_cast<int64_t>(e.ids.size()); ++j) {
      if (j < e.prompt_length) {
        ids_a[row][j] = e.ids[j];
        mask_a[row][j] = 1;
      } else {
        labels_a[row][j - e.prompt_length] = e.ids[j];
      }
    }
  }
  return batch;
}

model::Batch image_batch(const std::vector<ImageRef>& items, int64_t channels, int64_t size) {
  const auto n = static_cast<int64_t>(items.size());
  TORCH_CHECK(n > 0, "image_batch: no images");
  const auto rows = items.front().images->rows, cols = items.front().images->cols;
  auto raw = torch::empty({n, 1, rows, cols}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kLong);
  auto* out = raw.data_ptr<uint8_t>();
  auto* label_out = labels.data_ptr<int64_t>();
  for (int64_t row = 0; row < n; ++row) {
    const auto& [images, i] = items[row];
    TORCH_CHECK(images->rows == rows && images->cols == cols, "image_batch: images of different sizes");
    std::memcpy(out + row * rows * cols, images->pixels.data() + i * rows * cols, rows * cols);
    label_out[row] = images->labels[i];
  }
  auto pixels = raw.to(torch::kFloat).div_(127.5).sub_(1.0);
  if (rows != size || cols != size) {
    pixels = torch::nn::functional::interpolate(pixels, torch::nn::functional::InterpolateFuncOptions()
                                                            .size(std::vector<int64_t>{size, size})
                                                            .mode(torch::kBilinear)
                                                            .align_corners(false));
  }
  model::Batch batch;
  batch.pixel_values = pixels.expand({n, channels, size, size}).contiguous();
  batch.labels = labels;
  return batch;
}

StreamExamples::StreamExamples(const std::vector<data::TaskData>& stream, model::Model& model,
                               const tok::Tokenizer* tokenizer, int64_t max_length)
    : stream_(stream), special_(special_tokens(model)), tokenized_(stream.size()) {
  const bool images = model.kind() == model::ModelKind::ImageClassifier;
  if (images) {
    image_size_ = model.config().get_int("image_size");
    channels_ = model.config().get_int("num_channels", 3);
  }
  seq2seq_ = model.kind() == model::ModelKind::Seq2SeqLM;
  for (size_t t = 0; t < stream.size(); ++t) {
    const auto& task = stream[t];
    const bool image_task = task.config.kind == config::TaskKind::ImageClassification;
    if (image_task != images) {
      fail("train", "task '", task.config.name, "' (", config::word_of(task.config.kind), ") does not fit the model (",
           model.config().model_type(), ")");
    }
    if (images) continue;
    if (tokenizer == nullptr) fail("train", "task '", task.config.name, "' is text but no tokenizer was given");
    if (task.config.kind == config::TaskKind::Text) {
      if (seq2seq_) {
        fail("train", "task '", task.config.name, "' is plain text, which an encoder-decoder model (",
             model.config().model_type(), ") does not train on");
      }
      tokenized_[t] = tokenize_packed(*tokenizer, task.train.text, special_, max_length);
    } else if (seq2seq_) {
      tokenized_[t].reserve(task.train.text.size());
      for (const auto& example : task.train.text) {
        tokenized_[t].push_back(tokenize_seq2seq_example(*tokenizer, example, special_, max_length));
      }
    } else {
      tokenized_[t].reserve(task.train.text.size());
      for (const auto& example : task.train.text) {
        tokenized_[t].push_back(tokenize_example(*tokenizer, example, special_, max_length));
      }
    }
  }
}

std::vector<int64_t> StreamExamples::train_sizes() const {
  std::vector<int64_t> sizes;
  for (size_t t = 0; t < stream_.size(); ++t) {
    sizes.push_back(image_size_ > 0 ? stream_[t].train.images.size() : static_cast<int64_t>(tokenized_[t].size()));
  }
  return sizes;
}

model::Batch StreamExamples::batch(const std::vector<method::ExampleRef>& refs, const torch::Device& device) const {
  model::Batch batch;
  if (image_size_ > 0) {
    // The images of one batch may come from several tasks (replay, joint).
    std::vector<ImageRef> items;
    for (const auto& ref : refs) items.push_back({&stream_[ref.task].train.images, ref.index});
    batch = image_batch(items, channels_, image_size_);
    batch.pixel_values = batch.pixel_values.to(device);
    batch.labels = batch.labels.to(device);
    return batch;
  }
  std::vector<const TokenizedExample*> examples;
  for (const auto& ref : refs) examples.push_back(&tokenized_[ref.task].at(ref.index));
  batch = seq2seq_ ? seq2seq_batch(examples, special_.pad) : causal_batch(examples, special_.pad);
  batch.input_ids = batch.input_ids.to(device);
  batch.attention_mask = batch.attention_mask.to(device);
  batch.labels = batch.labels.to(device);
  return batch;
}

}  // namespace retain::train
