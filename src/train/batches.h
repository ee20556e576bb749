// batches.h - a task's examples as model inputs. Text is tokenized once per task: a prompt and its
// target become one sequence whose labels ignore the prompt (the loss is on the answer and the end
// token), or for an encoder-decoder the encoder's input and the decoder's labels; plain text
// (kind = text) is packed into blocks of max_length tokens. Images become
// pixel_values scaled as ViTImageProcessor does ((x/255 − 0.5)/0.5), resized to the model's size.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "data/task-data.h"
#include "method/method.h"
#include "model/model.h"
#include "tok/tokenizer.h"

namespace retain::train {

struct TokenizedExample {
  std::vector<int64_t> ids;   // prompt then target (and the end token)
  int64_t prompt_length = 0;  // the first prompt_length ids are not trained on
};

// Token ids the model uses around text, from its config.json.
struct SpecialTokens {
  std::vector<int64_t> eos;  // generation stops at any; the first ends every training target
  int64_t pad = 0;           // pad_token_id, else the first eos, else 0
};
SpecialTokens special_tokens(const model::Model& model);

// The training examples of every task of a stream, encoded for one model.
class StreamExamples {
 public:
  StreamExamples(const std::vector<data::TaskData>& stream, model::Model& model, const tok::Tokenizer* tokenizer,
                 int64_t max_length);

  // Training examples per task (text blocks for kind = text, so not always the file's count).
  std::vector<int64_t> train_sizes() const;
  // The batch of `refs` (any mix of tasks of one kind), on `device`.
  model::Batch batch(const std::vector<method::ExampleRef>& refs, const torch::Device& device) const;

 private:
  const std::vector<data::TaskData>& stream_;
  SpecialTokens special_;
  int64_t image_size_ = 0, channels_ = 0;
  bool seq2seq_ = false;                                  // examples are (encoder input, decoder labels) pairs
  std::vector<std::vector<TokenizedExample>> tokenized_;  // per task (empty for images)
};

// Prompt + target (+ end token) as one sequence, cut to max_length keeping at least part of the
// target (the prompt loses tokens from its start).
TokenizedExample tokenize_example(const tok::Tokenizer& tokenizer, const data::TextExample& example,
                                  const SpecialTokens& special, int64_t max_length);
// Encoder-decoder (T5): the prompt with the tokenizer's special tokens (T5's </s>) is the encoder's
// input (the first prompt_length ids, cut to max_length from its start), the target and the end
// token the decoder's labels (cut to max_length).
TokenizedExample tokenize_seq2seq_example(const tok::Tokenizer& tokenizer, const data::TextExample& example,
                                          const SpecialTokens& special, int64_t max_length);
// Documents joined (each followed by the end token) and cut into blocks of max_length tokens.
std::vector<TokenizedExample> tokenize_packed(const tok::Tokenizer& tokenizer,
                                              const std::vector<data::TextExample>& documents,
                                              const SpecialTokens& special, int64_t max_length);
// Right-padded ids, mask and labels (-100 on prompts and padding) for a causal LM.
model::Batch causal_batch(const std::vector<const TokenizedExample*>& examples, int64_t pad);
// Right-padded encoder ids and mask, and the decoder's labels (-100 on padding) for an encoder-decoder.
model::Batch seq2seq_batch(const std::vector<const TokenizedExample*>& examples, int64_t pad);
// One image: example `index` of `images`.
struct ImageRef {
  const data::ImageExamples* images;
  int64_t index;
};
// pixel_values [n, channels, size, size] of the images and their labels.
model::Batch image_batch(const std::vector<ImageRef>& items, int64_t channels, int64_t size);

}  // namespace retain::train
