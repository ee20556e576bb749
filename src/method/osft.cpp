// osft.cpp - OSFT (see osft.h).
#include "method/osft.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "compat.h"
#include "data/shuffle.h"
#include "error.h"
#include "nn/token-mask.h"

namespace retain::method {

namespace {

// The projection of osft.h applied to X [N, M]: with `top` the frozen part is restored to the
// task-start weight's (parameters), without it the frozen components are removed (gradients).
// With a = UᵀX, b = XV, c = UᵀXV and, for `top`, the task-start W₀'s own a₀, b₀, c₀ subtracted:
//   strict: X − U (a − a₀) − ((b − b₀) − U (c − c₀)) Vᵀ  =  F₀ + (I − UUᵀ) X (I − VVᵀ),
//           F₀ = W₀ − (I − UUᵀ) W₀ (I − VVᵀ) (= U diag(s) Vᵀ for an exact SVD: a₀ = diag(s)Vᵀ,
//           b₀ = U diag(s), c₀ = diag(s), and then b₀ − U c₀ = 0)
//   paper:  X − U (c − c₀) Vᵀ
torch::Tensor project(const torch::Tensor& X, const Osft::Frozen& f, bool strict, bool top) {
  const bool exact = !f.UtW.defined();
  auto a = torch::matmul(f.U.t(), X);  // [k, M]
  auto c = torch::matmul(a, f.V);      // [k, k]
  if (!strict) {
    if (top) c = c - (exact ? torch::diag(f.s) : f.UtWV);
    return X - torch::matmul(torch::matmul(f.U, c), f.V.t());
  }
  auto b = torch::matmul(X, f.V);  // [N, k]
  if (top && exact) {
    a = a - f.s.unsqueeze(1) * f.V.t();
  } else if (top) {
    a = a - f.UtW;
    b = b - f.WV;
    c = c - f.UtWV;
  }
  return X - torch::matmul(f.U, a) - torch::matmul(b - torch::matmul(f.U, c), f.V.t());
}

// Applies `project` to a weight or gradient stored [N, M] or, for GPT-2's Conv1D, [M, N].
void project_in_place(torch::Tensor& stored, bool fan_in_fan_out, const Osft::Frozen& f, bool strict, bool top) {
  auto view = fan_in_fan_out ? stored.t() : stored;
  view.copy_(project(view.to(torch::kFloat), f, strict, top));
}

}  // namespace

Osft::Frozen osft_top_singular(const torch::Tensor& w, int64_t k, const OsftSettings& settings, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto w32 = w.to(torch::kFloat);
  torch::Tensor U, s, Vh;
  if (settings.svd == OsftSvd::Randomized) {
    std::tie(U, s, Vh) = compat::svd_lowrank(w32, k, settings.oversample, settings.power_iterations, seed);
  } else {
    std::tie(U, s, Vh) = compat::svd_thin(w32);
  }
  Osft::Frozen f;
  f.U = U.narrow(1, 0, k).contiguous();
  f.s = s.narrow(0, 0, k).contiguous();
  f.V = Vh.narrow(0, 0, k).t().contiguous();
  if (settings.svd == OsftSvd::Randomized) {
    f.UtW = torch::matmul(f.U.t(), w32);
    f.WV = torch::matmul(w32, f.V);
    f.UtWV = torch::matmul(f.UtW, f.V);
  }
  return f;
}

void Osft::attach(model::Model& model) {
  layers_.clear();
  auto candidates =
      settings_.targets.empty() ? model.linear_layers() : linear_layers_matching(model, settings_.targets);
  for (auto& [layer_name, layer] : candidates) {
    const bool head = model.is_head(layer_name, layer);
    const bool decomposable = std::min(layer->options().in_features, layer->options().out_features) >= 2;
    if ((!head || !settings_.targets.empty()) && decomposable) layers_.emplace_back(layer_name, layer);
  }
  if (layers_.empty())
    fail("method", "osft: no linear layer of the '", model.config().model_type(), "' model is a target");
  if (settings_.others == OsftOthers::Frozen) {
    std::set<std::string> trained;
    for (auto& [layer_name, layer] : layers_) trained.insert(layer_name + ".weight");
    for (auto& item : model.named_parameters()) {
      item.value().set_requires_grad(model.is_classifier_head_parameter(item.key()) || trained.count(item.key()) != 0);
    }
  }
}

std::map<std::string, double> Osft::layer_importance(model::Model& model, const TaskContext& task) {
  std::map<std::string, std::pair<double, int64_t>> cosines;  // sum, tokens
  for (auto& [layer_name, layer] : layers_) {
    auto& slot = cosines[layer_name];
    const auto m = std::min(layer->options().in_features, layer->options().out_features);
    layer->observer_set([&slot, m, bias = layer->bias](const torch::Tensor& x, const torch::Tensor& y) {
      auto wx = bias.defined() ? y - bias : y;
      auto xm = nn::real_token_rows(x).narrow(1, 0, m).to(torch::kFloat);
      auto ym = nn::real_token_rows(wx).narrow(1, 0, m).to(torch::kFloat);
      slot.first += torch::cosine_similarity(xm, ym, 1, 1e-8).sum().item<double>();
      slot.second += xm.size(0);
    });
  }
  {
    torch::NoGradGuard no_grad;
    task.for_each_batch([&](const model::Batch& batch) { model.forward(batch); }, settings_.calibration_batches);
  }
  std::map<std::string, double> importance;
  for (auto& [layer_name, layer] : layers_) {
    layer->observer_clear();
    const auto& [sum, tokens] = cosines[layer_name];
    importance[layer_name] = sum / static_cast<double>(std::max<int64_t>(1, tokens));
  }
  return importance;
}

std::map<std::string, int64_t> Osft::adaptive_ranks(model::Model& model, const TaskContext& task) {
  const auto importance = layer_importance(model, task);
  double mean = 0;
  for (const auto& [layer_name, value] : importance) mean += value / static_cast<double>(importance.size());
  std::map<std::string, int64_t> ranks;
  for (auto& [layer_name, layer] : layers_) {
    const double value = importance.at(layer_name);
    const double normalised = std::clamp(mean > 0 ? value / mean : value, 0.0, 1.0);
    const double ratio = settings_.mrr + normalised * (settings_.trr - settings_.mrr);
    const auto R = std::min(layer->options().in_features, layer->options().out_features);
    ranks[layer_name] = std::clamp<int64_t>(static_cast<int64_t>(std::floor(ratio * static_cast<double>(R))), 1, R - 1);
  }
  return ranks;
}

void Osft::begin_task(model::Model& model, const TaskContext& task) {
  if (settings_.rank == OsftRank::Adaptive && ranks_.empty()) ranks_ = adaptive_ranks(model, task);
  frozen_.clear();
  for (auto& [layer_name, layer] : layers_) {
    const auto R = std::min(layer->options().in_features, layer->options().out_features);
    int64_t k = 0;
    if (settings_.rank == OsftRank::Adaptive) {
      k = ranks_.at(layer_name);
    } else {
      k = std::clamp<int64_t>(
          static_cast<int64_t>(std::floor((1 - settings_.unfreeze_rank_ratio) * static_cast<double>(R))), 1, R - 1);
      ranks_[layer_name] = k;
    }
    const auto seed = data::derive_seed(task.seed, "osft task " + std::to_string(task.index) + " " + layer_name);
    frozen_[layer_name] = osft_top_singular(layer->weight_out_in(), k, settings_, seed);
  }
}

void Osft::before_step(model::Model& /*model*/) {
  torch::NoGradGuard no_grad;
  const bool strict = settings_.projection == OsftProjection::Strict;
  for (auto& [layer_name, layer] : layers_) {
    auto& grad = layer->weight.mutable_grad();
    if (!grad.defined()) continue;
    project_in_place(grad, layer->options().fan_in_fan_out, frozen_.at(layer_name), strict, false);
  }
}

void Osft::after_step(model::Model& /*model*/) {
  torch::NoGradGuard no_grad;
  const bool strict = settings_.projection == OsftProjection::Strict;
  for (auto& [layer_name, layer] : layers_) {
    project_in_place(layer->weight, layer->options().fan_in_fan_out, frozen_.at(layer_name), strict, true);
  }
}

void Osft::end_task(model::Model& model, const TaskContext& task) {
  frozen_.clear();  // the next task decomposes the weights as they are then
  if (settings_.rank == OsftRank::Adaptive) ranks_ = adaptive_ranks(model, task);
}

MethodState Osft::state() const {
  MethodState state;
  for (const auto& [layer_name, f] : frozen_) {
    state.tensors["U/" + layer_name] = f.U.cpu().contiguous();
    state.tensors["s/" + layer_name] = f.s.cpu().contiguous();
    state.tensors["V/" + layer_name] = f.V.cpu().contiguous();
    if (f.UtW.defined()) {
      state.tensors["UtW/" + layer_name] = f.UtW.cpu().contiguous();
      state.tensors["WV/" + layer_name] = f.WV.cpu().contiguous();
      state.tensors["UtWV/" + layer_name] = f.UtWV.cpu().contiguous();
    }
  }
  state.meta["ranks"] = ranks_;
  return state;
}

void Osft::load_state(const MethodState& state) {
  frozen_.clear();
  ranks_ = state.meta.value("ranks", std::map<std::string, int64_t>{});
  for (auto& [layer_name, layer] : layers_) {
    auto U = state.tensors.find("U/" + layer_name);
    if (U == state.tensors.end()) continue;
    const auto device = layer->weight.device();
    const auto tensor = [&](const std::string& key) {
      return state.tensors.at(key + "/" + layer_name).to(device).clone();
    };
    auto& f = frozen_[layer_name];
    f.U = U->second.to(device).clone();
    f.s = tensor("s");
    f.V = tensor("V");
    if (state.tensors.count("UtW/" + layer_name) != 0) {
      f.UtW = tensor("UtW");
      f.WV = tensor("WV");
      f.UtWV = tensor("UtWV");
    }
  }
}

std::unique_ptr<Method> osft_create(config::Options& options) {
  OsftSettings s;
  s.targets = options.get_names("targets", "");
  s.rank = options.get_word("rank", s.rank);
  s.unfreeze_rank_ratio = options.get_double("unfreeze_rank_ratio", s.unfreeze_rank_ratio);
  s.mrr = options.get_double("mrr", s.mrr);
  s.trr = options.get_double("trr", s.trr);
  s.projection = options.get_word("projection", s.projection);
  s.svd = options.get_word("svd", s.svd);
  s.oversample = options.get_int("oversample", s.oversample);
  s.power_iterations = options.get_int("power_iterations", s.power_iterations);
  s.calibration_batches = options.get_int("calibration_batches", s.calibration_batches);
  s.others = options.get_word("others", s.others);
  if (!(s.unfreeze_rank_ratio > 0 && s.unfreeze_rank_ratio <= 1))
    fail("method", "osft: unfreeze_rank_ratio must be in (0, 1], got ", s.unfreeze_rank_ratio);
  if (!(s.mrr >= 0 && s.mrr <= s.trr && s.trr <= 1))
    fail("method", "osft: need 0 <= mrr <= trr <= 1, got ", s.mrr, " and ", s.trr);
  if (s.oversample < 0 || s.power_iterations < 0 || s.calibration_batches < 0)
    fail("method", "osft: oversample, power_iterations and calibration_batches must be >= 0");
  options.reject_unused("osft");
  return std::make_unique<Osft>(std::move(s));
}

}  // namespace retain::method
