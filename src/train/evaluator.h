// evaluator.h - scores a model on a task's test split (docs/design.md §5: after every task, every task
// seen so far). Generation and text-classification tasks are scored on the greedy answer after the
// prompt (exact match, accuracy or ROUGE-L, 0..100); image tasks by accuracy over the allowed
// classes (class-incremental: the classes seen so far); text tasks by perplexity (lower is better)
// on their test text, else their valid text, else their training text. General ability is scored
// by perplexity on held-out text and by a multiple-choice probe.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "data/probe.h"
#include "data/task-data.h"
#include "dist/comm.h"
#include "model/model.h"
#include "tok/tokenizer.h"
#include "train/batches.h"
#include "train/prototype-head.h"

namespace retain::train {

struct EvalOptions {
  int64_t batch_size = 16;
  int64_t max_new_tokens = 32;
  int64_t max_length = 256;
};

struct TaskScore {
  double score = 0;
  int64_t examples = 0;
  std::vector<std::vector<std::string>> samples;  // the first few [prompt, answer, reference]
};

// With data-parallel ranks (`comm` of several), each rank scores every size-th batch of a split and
// the sums are added over the ranks, so every rank returns the score of the whole split.
class Evaluator {
 public:
  Evaluator(model::Model& model, const tok::Tokenizer* tokenizer, EvalOptions options, torch::Device device,
            dist::Comm* comm = nullptr);

  // `allowed_classes` (image tasks): the labels the prediction may take; empty = all of the head.
  TaskScore score(const data::TaskData& task, const std::vector<int64_t>& allowed_classes);
  // exp(mean next-token loss) over `documents` packed into max_length blocks, at most `max_tokens` tokens;
  // `source` names the documents' file in the error for a text of fewer than 2 tokens.
  double perplexity(const std::vector<data::TextExample>& documents, int64_t max_tokens, const std::string& source);
  // Multiple-choice accuracy (0..100) on `items`: each item's answer is the choice with the highest
  // log-likelihood (summed over its tokens) after the question; `source` names the file in messages.
  double probe_accuracy(const std::vector<data::ProbeItem>& items, const std::string& source);
  // Image tasks predict with `head` (nearest class mean) instead of the model's logits; null = the logits.
  void use_prototypes(const PrototypeHead* head) { prototypes_ = head; }
  const PrototypeHead* prototypes() const { return prototypes_; }

 private:
  TaskScore score_generation(const data::TaskData& task);
  TaskScore score_images(const data::TaskData& task, const std::vector<int64_t>& allowed_classes);
  // Whether batch `index` of a split is this rank's to score; the sum of `value` over the ranks.
  bool mine(size_t index) const;
  bool leader() const;  // rank 0, or not data-parallel: the rank that tells the user
  double summed(double value, const std::string& what);
  model::Model& model_;
  const tok::Tokenizer* tokenizer_;
  EvalOptions options_;
  torch::Device device_;
  SpecialTokens special_;
  dist::Comm* comm_;
  const PrototypeHead* prototypes_ = nullptr;
};

}  // namespace retain::train
