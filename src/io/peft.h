// peft.h - PEFT LoRA adapter folders: adapter_config.json + adapter_model.safetensors, read and
// written in the format peft's PeftModel.from_pretrained / save_pretrained use.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace retain::io {

struct LoraWeights {
  torch::Tensor A;   // [r, in]   (tensor "base_model.model.<module>.lora_A.weight")
  torch::Tensor B;   // [out, r]  (tensor "base_model.model.<module>.lora_B.weight")
  double scale = 1;  // lora_alpha / r (/ sqrt(r) with use_rslora), per module
};

struct PeftAdapter {
  std::string base_model_name_or_path;
  std::string task_type;                      // CAUSAL_LM, SEQ_2_SEQ_LM, ... ("" for none)
  bool fan_in_fan_out = false;                // GPT-2's Conv1D layers
  std::map<std::string, LoraWeights> layers;  // by HF module name ("model.layers.0.self_attn.q_proj")
};

// Reads DIR/adapter_config.json and DIR/adapter_model.safetensors. Options that change what the
// adapter computes and are not implemented (DoRA, LoRA biases, modules_to_save, ...) are refused
// by name; every lora_A has its lora_B with matching rank.
PeftAdapter peft_adapter_read(const std::string& dir);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors (atomically). Per-module ranks
// and scales that differ from the most common one go to rank_pattern / alpha_pattern.
void peft_adapter_write(const std::string& dir, const PeftAdapter& adapter);

}  // namespace retain::io
