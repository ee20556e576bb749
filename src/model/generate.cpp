#include "model/generate.h"

#include "error.h"

namespace retain::model {

namespace {

// Per row: the argmax token, or the pad token once the row has produced an EOS.
torch::Tensor next_tokens(const torch::Tensor& last_logits, torch::Tensor& unfinished, const GenerateOptions& options) {
  auto next = last_logits.argmax(-1);
  next = torch::where(unfinished, next, torch::full_like(next, options.pad_token_id));
  for (auto eos : options.eos_token_ids) unfinished = unfinished.logical_and(next != eos);
  return next;
}

torch::Tensor generate_causal(CausalLM& model, const torch::Tensor& input_ids, torch::Tensor mask,
                              const GenerateOptions& options) {
  // Positions count real tokens only, so a left-padded row starts at 0 (HF's generate does this).
  auto positions_of = [](const torch::Tensor& m) { return (m.cumsum(-1) - 1).masked_fill(m == 0, 1); };
  const bool padded = mask.defined();
  if (!padded) mask = torch::ones_like(input_ids);
  auto sequence = input_ids;
  auto unfinished = torch::ones({input_ids.size(0)}, input_ids.options().dtype(torch::kBool));
  nn::KVCache cache(model.num_layers());
  torch::Tensor step_ids = input_ids;
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    torch::Tensor logits;
    auto positions = positions_of(mask);
    if (options.use_cache) {
      const auto t = step_ids.size(1);
      logits = model.forward_tokens(step_ids, positions.narrow(1, positions.size(1) - t, t),
                                    padded ? mask : torch::Tensor(), &cache);
    } else {
      logits = model.forward_tokens(sequence, positions, padded ? mask : torch::Tensor(), nullptr);
    }
    auto next = next_tokens(logits.select(1, logits.size(1) - 1), unfinished, options);
    sequence = torch::cat({sequence, next.unsqueeze(1)}, 1);
    mask = torch::cat({mask, torch::ones_like(next).unsqueeze(1)}, 1);
    step_ids = next.unsqueeze(1);
    if (!unfinished.any().item<bool>()) break;
  }
  return sequence;
}

torch::Tensor generate_seq2seq(Seq2SeqLM& model, const torch::Tensor& input_ids, const torch::Tensor& mask,
                               const GenerateOptions& options) {
  auto encoded = model.encode(input_ids, mask);
  auto sequence = torch::full({input_ids.size(0), 1}, model.decoder_start_token_id(), input_ids.options());
  auto unfinished = torch::ones({input_ids.size(0)}, input_ids.options().dtype(torch::kBool));
  nn::KVCache self_cache(model.num_decoder_layers()), cross_cache(model.num_decoder_layers());
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    auto logits = options.use_cache ? model.decode(sequence.narrow(1, sequence.size(1) - 1, 1), encoded, mask,
                                                   &self_cache, &cross_cache)
                                    : model.decode(sequence, encoded, mask, nullptr, nullptr);
    auto next = next_tokens(logits.select(1, logits.size(1) - 1), unfinished, options);
    sequence = torch::cat({sequence, next.unsqueeze(1)}, 1);
    if (!unfinished.any().item<bool>()) break;
  }
  return sequence;
}

}  // namespace

torch::Tensor generate_greedy(Model& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                              const GenerateOptions& options) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.size(1) > 0, "generate: input_ids must be [batch, tokens], got ",
              input_ids.sizes());
  torch::NoGradGuard no_grad;
  const auto scope = model.compute_scope();
  if (auto* causal = dynamic_cast<CausalLM*>(&model))
    return generate_causal(*causal, input_ids, attention_mask, options);
  if (auto* seq2seq = dynamic_cast<Seq2SeqLM*>(&model))
    return generate_seq2seq(*seq2seq, input_ids, attention_mask, options);
  fail("generate", model.config().path(), ": model_type '", model.config().model_type(), "' does not generate text");
}

}  // namespace retain::model
