// scorers.h - how one generated answer is scored against its reference string: exact match
// (classification labels, short answers) and ROUGE-L (free-form generation). Scores are 0..1;
// the accuracy matrix stores them scaled to 0..100.
#pragma once

#include <string>

namespace retain::eval {

// 1 when `pred` and `ref` are equal after stripping leading and trailing whitespace, else 0.
double exact_match(const std::string& pred, const std::string& ref);

// ROUGE-L F1 (beta = 1) from the longest common subsequence of tokens, as rouge-score's default
// `RougeScorer(["rougeL"])` without stemming: text is lowercased and split into runs of [a-z0-9];
// unlike rouge-score, bytes of non-ASCII UTF-8 characters count as word characters too, so text
// in other scripts is scored rather than dropped. Both empty: 1; one empty: 0.
double rouge_l(const std::string& pred, const std::string& ref);

// The task metric `metric` (exact_match | accuracy | rouge_l) of one answer; `accuracy` is exact
// match on the label string. Any other name is an error.
double score(const std::string& metric, const std::string& pred, const std::string& ref);

}  // namespace retain::eval
