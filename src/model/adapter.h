// adapter.h - LoRA adapters on a whole model: load a PEFT adapter onto the matching linear layers,
// save one back in PEFT's format, merge it into the base weights and take it out again.
#pragma once

#include <string>

#include "model/model.h"

namespace retain::model {

// Attaches the adapter in DIR (PEFT format) under `name`; every module it names must be a linear
// layer of the model with matching in/out sizes.
void adapter_load(Model& model, const std::string& dir, const std::string& name = "default");

// Writes the layers' adapter `name` as a PEFT adapter folder.
void adapter_save(Model& model, const std::string& dir, const std::string& name = "default");

// On every layer that has adapter `name`: merge (W += ΔW), unmerge (W -= ΔW after a merge) or
// subtract (W -= ΔW for an unmerged adapter, LoRA⁻). Returns the number of layers changed.
int adapter_merge(Model& model, const std::string& name = "default");
int adapter_unmerge(Model& model, const std::string& name = "default");
int adapter_subtract(Model& model, const std::string& name = "default");

}  // namespace retain::model
