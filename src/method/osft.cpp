// osft.cpp - OSFT (see osft.h).
#include "method/osft.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <set>

#include <ATen/Parallel.h>

#include "compat.h"
#include "data/shuffle.h"
#include "error.h"
#include "nn/token-mask.h"

namespace retain::method {

namespace {

torch::Tensor float32(const torch::Tensor& t) { return t.defined() ? t.to(torch::kFloat).contiguous() : t; }

// X ← (I − HHᵀ) X or C Cᵀ X for one side, X thin; `small` is a reused buffer.
void project_columns(torch::Tensor& X, const Osft::Side& side, torch::Tensor& small) {
  const auto& basis = side.basis;
  at::mm_out(small, basis.t(), X);
  if (side.complement) {
    at::mm_out(X, basis, small);
  } else {
    X.addmm_(basis, small, 1, -1);
  }
}

// The strict projection P(X) = (I − U_hU_hᵀ) X (I − V_hV_hᵀ) of X [N, M] written into `out`
// (which may be X itself), plus `base` when defined: out = base + P(X). `thin` and `small` are
// buffers kept from one call to the next.
void strict_project(const torch::Tensor& X, const Osft::Frozen& f, const torch::Tensor& base, torch::Tensor& out,
                    torch::Tensor& thin, torch::Tensor& small) {
  const auto finish = [&](const torch::Tensor& a, const torch::Tensor& b) {
    if (base.defined()) {
      at::addmm_out(out, base, a, b);
    } else {
      at::mm_out(out, a, b);
    }
  };
  if (f.right.complement) {  // reduce to X·C_V [N, ·], project its columns, expand
    at::mm_out(thin, X, f.right.basis);
    project_columns(thin, f.left, small);
    finish(thin, f.right.basis.t());
  } else if (f.left.complement) {  // reduce to C_Uᵀ·X [·, M], project its rows, expand
    at::mm_out(thin, f.left.basis.t(), X);
    auto rows = thin.t();
    project_columns(rows, f.right, small);
    finish(f.left.basis, rows.t());
  } else {  // both sides keep the frozen directions (small k)
    auto Y = X.clone();
    auto scratch = torch::empty({0}, X.options());
    project_columns(Y, f.left, scratch);
    auto rows = Y.t();
    scratch = torch::empty({0}, X.options());
    project_columns(rows, f.right, scratch);
    if (base.defined()) Y.add_(base);
    out.copy_(Y);
  }
}

// The paper's projection X − U_h (U_hᵀXV_h − c₀) V_hᵀ, c₀ = U_hᵀW₀V_h for the weight, 0 for a gradient.
torch::Tensor paper_project(const torch::Tensor& X, const Osft::Frozen& f, bool weight) {
  const auto& U = f.left.basis;
  const auto& V = f.right.basis;
  auto c = torch::matmul(torch::matmul(U.t(), X), V);
  if (weight) c = c - f.top;
  return X - torch::matmul(torch::matmul(U, c), V.t());
}

// One side's basis: the frozen directions `top` [L, k], or their complement when it is smaller
// (`rest` if the decomposition gave it, else from a complete QR of `top`).
Osft::Side side_of(const torch::Tensor& top, const torch::Tensor& rest) {
  const auto L = top.size(0), k = top.size(1);
  if (L - k >= k) return {top.contiguous(), false};
  if (rest.defined()) return {rest.contiguous(), true};
  auto q = std::get<0>(torch::linalg_qr(top.to(torch::kDouble), "complete"));
  return {q.narrow(1, k, L - k).to(top.scalar_type()).contiguous(), true};
}

// Exact top-k triplets of a batch w [B, N, M] through the float64 Gram matrix of its short side.
OsftTriplets gram_top_singular(const torch::Tensor& w, int64_t k) {
  const bool tall = w.size(-2) >= w.size(-1);
  auto w64 = w.to(torch::kDouble);
  auto short_major = tall ? w64 : w64.transpose(-2, -1);  // [B, L, R]
  auto [values, vectors] = torch::linalg_eigh(torch::matmul(short_major.transpose(-2, -1), short_major), "L");
  values = values.flip(-1);
  vectors = vectors.flip(-1);  // descending
  const auto R = vectors.size(-1);
  auto s = values.narrow(-1, 0, k).clamp_min(0).sqrt();
  auto short_top = vectors.narrow(-1, 0, k);
  auto short_rest = vectors.narrow(-1, k, R - k);
  auto long_top = torch::matmul(short_major, short_top);
  // W·v/s is orthonormal while s is well above the rounding of W·v; a (near-)zero s among the top
  // k leaves that direction arbitrary, and a QR then gives an orthonormal basis of the same span.
  const double floor = 1e-6 * s.select(-1, 0).max().item<double>();
  if (s.select(-1, k - 1).min().item<double>() > floor) {
    long_top = long_top / s.unsqueeze(-2);
  } else {
    long_top = std::get<0>(torch::linalg_qr(long_top, "reduced"));
  }
  // A square matrix's long side is as short: its complement is W·v/s of the remaining pairs, where
  // those s are well above rounding (else side_of falls back to a QR of the frozen directions).
  torch::Tensor long_rest;
  if (short_major.size(-2) == R) {
    auto s_rest = values.narrow(-1, k, R - k).clamp_min(0).sqrt();
    if (s_rest.min().item<double>() > floor) long_rest = torch::matmul(short_major, short_rest) / s_rest.unsqueeze(-2);
  }
  OsftTriplets t;
  t.s = float32(s);
  t.U = float32(tall ? long_top : short_top);
  t.V = float32(tall ? short_top : long_top);
  t.U_rest = float32(tall ? long_rest : short_rest);
  t.V_rest = float32(tall ? short_rest : long_rest);
  return t;
}

}  // namespace

OsftTriplets osft_split_singular(const torch::Tensor& w, int64_t k) {
  torch::NoGradGuard no_grad;
  auto [U, s, Vh] = torch::linalg_svd(w.to(torch::kDouble), false, {});
  auto V = Vh.transpose(-2, -1);
  const auto R = s.size(-1);
  OsftTriplets t;
  t.U = float32(U.narrow(-1, 0, k));
  t.s = float32(s.narrow(-1, 0, k));
  t.V = float32(V.narrow(-1, 0, k));
  t.U_rest = float32(U.narrow(-1, k, R - k));
  t.s_rest = float32(s.narrow(-1, k, R - k));
  t.V_rest = float32(V.narrow(-1, k, R - k));
  return t;
}

OsftTriplets osft_top_singular(const torch::Tensor& w, int64_t k, const OsftSettings& settings,
                               const std::vector<uint64_t>& seeds) {
  torch::NoGradGuard no_grad;
  const bool batched = w.dim() == 3;
  auto w3 = batched ? w : w.unsqueeze(0);
  OsftTriplets t;
  if (settings.svd == OsftSvd::Full) {
    t = gram_top_singular(w3, k);
  } else {
    std::vector<torch::Tensor> U, s, V;
    for (int64_t i = 0; i < w3.size(0); ++i) {
      auto [u, sv, vh] = compat::svd_lowrank(w3[i].to(torch::kFloat), k, settings.oversample, settings.power_iterations,
                                             seeds.at(static_cast<size_t>(i)));
      U.push_back(u);
      s.push_back(sv);
      V.push_back(vh.t());
    }
    t.U = torch::stack(U).contiguous();
    t.s = torch::stack(s).contiguous();
    t.V = torch::stack(V).contiguous();
  }
  if (!batched) {
    for (auto* tensor : {&t.U, &t.s, &t.V, &t.U_rest, &t.V_rest}) {
      if (tensor->defined()) *tensor = tensor->squeeze(0);
    }
  }
  return t;
}

Osft::Frozen osft_frozen(const torch::Tensor& w0, const OsftTriplets& top, OsftProjection projection) {
  torch::NoGradGuard no_grad;
  Osft::Frozen f;
  f.s = top.s;
  auto w32 = w0.to(torch::kFloat);
  if (projection == OsftProjection::Paper) {
    f.left = {top.U, false};
    f.right = {top.V, false};
    f.top = torch::matmul(torch::matmul(top.U.t(), w32), top.V);
    return f;
  }
  f.left = side_of(top.U, top.U_rest);
  f.right = side_of(top.V, top.V_rest);
  // F₀ = W₀ − P(W₀), so that F₀ + P(W₀) is W₀ and the first re-projection leaves it as it was.
  f.top = w32 - osft_strict_projection(w32, f);
  return f;
}

torch::Tensor osft_strict_projection(const torch::Tensor& X, const Osft::Frozen& f) {
  torch::NoGradGuard no_grad;
  auto out = torch::empty_like(X);
  auto thin = torch::empty({0}, X.options()), small = torch::empty({0}, X.options());
  strict_project(X, f, {}, out, thin, small);
  return out;
}

void Osft::project(nn::Linear& layer, const Frozen& f, Workspace& work, bool weight) const {
  auto& stored = weight ? layer->weight : layer->weight.mutable_grad();
  auto view = layer->options().fan_in_fan_out ? stored.t() : stored;
  if (settings_.projection == OsftProjection::Paper) {
    view.copy_(paper_project(view.to(torch::kFloat), f, weight));
    return;
  }
  // A float32 weight or gradient is projected where it lies; any other is projected in float32.
  const bool direct = view.scalar_type() == torch::kFloat;
  auto X = direct ? view : view.to(torch::kFloat);
  if (!work.thin.defined()) {
    work.thin = torch::empty({0}, X.options());
    work.small = torch::empty({0}, X.options());
  }
  strict_project(X, f, weight ? f.top : torch::Tensor(), X, work.thin, work.small);
  if (!direct) view.copy_(X);
}

void Osft::project_factors(nn::Linear& layer, const Frozen& f, Workspace& work, bool weight) const {
  auto* factors = layer->adapter_find(kFactors);
  if (factors == nullptr) return;
  auto U = weight ? factors->B : factors->B.grad();   // U_l [N, r]
  auto Vt = weight ? factors->A : factors->A.grad();  // V_lᵀ [r, M]
  if (!work.thin.defined()) {
    work.thin = torch::empty({0}, factors->B.options().requires_grad(false));
    work.small = torch::empty({0}, factors->B.options().requires_grad(false));
  }
  if (U.defined()) project_columns(U, f.left, work.small);
  if (Vt.defined()) {
    auto V = Vt.t();
    project_columns(V, f.right, work.thin);
  }
}

void Osft::factors_attach(nn::Linear& layer, const torch::Tensor& U_l, const torch::Tensor& s_l,
                          const torch::Tensor& V_l) const {
  torch::NoGradGuard no_grad;
  if (layer->adapter_find(kFactors) != nullptr) layer->adapter_remove(kFactors);
  auto w = layer->weight_out_in();
  const auto options = w.options().dtype(torch::kFloat).requires_grad(false);
  // Copies: the frozen side's basis may be these very vectors (the short side's complement).
  auto B = U_l.to(options).clone(), middle = s_l.to(options).clone(),
       A = V_l.t().to(options).clone(at::MemoryFormat::Contiguous);
  // F₀ = W − U_l·diag(s_l)·V_lᵀ: the layer computes what it did before, up to one rounding.
  w.copy_(w.to(torch::kFloat) - torch::matmul(B * middle, A));
  for (auto* factor : {&A, &B, &middle}) factor->set_requires_grad(true);
  layer->adapter_add(kFactors, A, B, 1.0).middle = middle;
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
  const bool factors = settings_.form == OsftForm::Factors;
  if (factors) {  // their factors train instead (an adapter, see trainable)
    for (auto& [layer_name, layer] : layers_) layer->weight.set_requires_grad(false);
  }
  if (settings_.others == OsftOthers::Frozen) {
    std::set<std::string> trained;
    if (!factors) {
      for (auto& [layer_name, layer] : layers_) trained.insert(layer_name + ".weight");
    }
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
  workspace_.clear();
  // Matrices of one shape and rank are decomposed together, in batches of a fixed size on the CPU
  // (the same batches whatever the thread count, so the factors are too), the whole group on a GPU.
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::vector<size_t>> groups;
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto& layer = layers_[i].second;
    const auto N = layer->options().out_features, M = layer->options().in_features;
    const auto R = std::min(N, M);
    int64_t k = 0;
    if (settings_.rank == OsftRank::Adaptive) {
      k = ranks_.at(layers_[i].first);
    } else {
      k = std::clamp<int64_t>(
          static_cast<int64_t>(std::floor((1 - settings_.unfreeze_rank_ratio) * static_cast<double>(R))), 1, R - 1);
      ranks_[layers_[i].first] = k;
    }
    groups[{N, M, k}].push_back(i);
  }
  const bool cpu = layers_.front().second->weight.device().is_cpu();
  std::vector<std::pair<int64_t, std::vector<size_t>>> jobs;  // k, layers
  for (const auto& [key, members] : groups) {
    const size_t batch = cpu ? 4 : members.size();
    for (size_t start = 0; start < members.size(); start += batch) {
      jobs.emplace_back(
          std::get<2>(key),
          std::vector<size_t>(members.begin() + static_cast<std::ptrdiff_t>(start),
                              members.begin() + static_cast<std::ptrdiff_t>(std::min(members.size(), start + batch))));
    }
  }
  const bool factors = settings_.form == OsftForm::Factors;
  std::vector<Frozen> frozen(layers_.size());
  std::vector<OsftTriplets> low(factors ? layers_.size() : 0);  // the factor form's trained triplets
  const auto run = [&](const std::pair<int64_t, std::vector<size_t>>& job) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> weights;
    std::vector<uint64_t> seeds;
    for (const auto i : job.second) {
      weights.push_back(layers_[i].second->weight_out_in().detach());
      seeds.push_back(data::derive_seed(task.seed, "osft task " + std::to_string(task.index) + " " + layers_[i].first));
    }
    const auto top = factors ? osft_split_singular(torch::stack(weights), job.first)
                             : osft_top_singular(torch::stack(weights), job.first, settings_, seeds);
    for (size_t j = 0; j < job.second.size(); ++j) {
      const auto index = static_cast<int64_t>(j);
      const auto pick = [&](const torch::Tensor& t) { return t.defined() ? t[index] : t; };
      const OsftTriplets mine{pick(top.U),      pick(top.s),      pick(top.V),
                              pick(top.U_rest), pick(top.V_rest), pick(top.s_rest)};
      if (factors) {
        // The low vectors complete the frozen ones to a basis on the short side only.
        const auto rank = mine.s.size(0) + mine.s_rest.size(0);
        const auto complement = [&](const torch::Tensor& rest) {
          return rest.size(0) == rank ? rest : torch::Tensor();
        };
        frozen[job.second[j]] = {
            mine.s, side_of(mine.U, complement(mine.U_rest)), side_of(mine.V, complement(mine.V_rest)), {}};
        low[job.second[j]] = mine;
      } else {
        frozen[job.second[j]] = osft_frozen(weights[j], mine, settings_.projection);
      }
    }
  };
  if (cpu) {  // one batch per thread, taken in turn (LAPACK gains little from a second thread on these sizes)
    std::atomic<size_t> next{0};
    at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) {
      for (size_t j = next++; j < jobs.size(); j = next++) run(jobs[j]);
    });
  } else {
    for (const auto& job : jobs) run(job);
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    frozen_[layers_[i].first] = std::move(frozen[i]);
    if (factors) factors_attach(layers_[i].second, low[i].U_rest, low[i].s_rest, low[i].V_rest);
  }
}

std::vector<ParamGroup> Osft::trainable(model::Model& model, double weight_decay) {
  auto groups = Method::trainable(model, weight_decay);  // the dense form's weights, and the others
  if (settings_.form == OsftForm::Dense) return groups;
  ParamGroup matrices{{}, {}, weight_decay, 1}, values{{}, {}, 0, 1};  // decay on matrices only, as the default
  for (auto& [layer_name, layer] : layers_) {
    auto* factors = layer->adapter_find(kFactors);
    if (factors == nullptr) continue;
    matrices.names.push_back(layer_name + ".osft.U_l");
    matrices.params.push_back(factors->B);
    matrices.names.push_back(layer_name + ".osft.V_l");
    matrices.params.push_back(factors->A);
    values.names.push_back(layer_name + ".osft.s_l");
    values.params.push_back(factors->middle);
  }
  for (auto* group : {&matrices, &values}) {
    if (!group->params.empty()) groups.push_back(std::move(*group));
  }
  return groups;
}

void Osft::before_step(model::Model& /*model*/) {
  torch::NoGradGuard no_grad;
  for (auto& [layer_name, layer] : layers_) {
    if (settings_.form == OsftForm::Factors) {
      project_factors(layer, frozen_.at(layer_name), workspace_[layer_name], false);
    } else if (layer->weight.grad().defined()) {
      project(layer, frozen_.at(layer_name), workspace_[layer_name], false);
    }
  }
}

void Osft::after_step(model::Model& /*model*/) {
  torch::NoGradGuard no_grad;
  for (auto& [layer_name, layer] : layers_) {
    if (settings_.form == OsftForm::Factors) {
      project_factors(layer, frozen_.at(layer_name), workspace_[layer_name], true);
    } else {
      project(layer, frozen_.at(layer_name), workspace_[layer_name], true);
    }
  }
}

void Osft::end_task(model::Model& model, const TaskContext& task) {
  for (auto& [layer_name, layer] : layers_) {  // the factor form: W = F₀ + U_l·diag(s_l)·V_lᵀ
    if (layer->adapter_find(kFactors) == nullptr) continue;
    layer->adapter_merge(kFactors);
    layer->adapter_remove(kFactors);
  }
  frozen_.clear();  // the next task decomposes the weights as they are then
  if (settings_.rank == OsftRank::Adaptive) ranks_ = adaptive_ranks(model, task);
}

MethodState Osft::state() const {
  MethodState state;
  std::map<std::string, std::array<bool, 2>> complements;
  for (const auto& [layer_name, f] : frozen_) {
    state.tensors["s/" + layer_name] = f.s.cpu().contiguous();
    state.tensors["left/" + layer_name] = f.left.basis.cpu().contiguous();
    state.tensors["right/" + layer_name] = f.right.basis.cpu().contiguous();
    if (f.top.defined()) state.tensors["top/" + layer_name] = f.top.cpu().contiguous();
    complements[layer_name] = {f.left.complement, f.right.complement};
  }
  for (const auto& [layer_name, layer] : layers_) {
    for (const auto& factors : layer->adapters()) {
      if (factors.name != kFactors) continue;
      state.tensors["U_l/" + layer_name] = factors.B.detach().cpu().contiguous();
      state.tensors["s_l/" + layer_name] = factors.middle.detach().cpu().contiguous();
      state.tensors["Vt_l/" + layer_name] = factors.A.detach().cpu().contiguous();
    }
  }
  state.meta["ranks"] = ranks_;
  state.meta["complements"] = complements;
  return state;
}

void Osft::load_state(const MethodState& state) {
  frozen_.clear();
  workspace_.clear();
  ranks_ = state.meta.value("ranks", std::map<std::string, int64_t>{});
  const auto complements = state.meta.value("complements", std::map<std::string, std::array<bool, 2>>{});
  for (auto& [layer_name, layer] : layers_) {
    if (state.tensors.count("s/" + layer_name) == 0) continue;
    const auto device = layer->weight.device();
    const auto tensor = [&](const std::string& key) {
      return state.tensors.at(key + "/" + layer_name).to(device).clone();
    };
    const auto sides = complements.find(layer_name);
    if (sides == complements.end())
      fail("method", "osft: the state has factors of '", layer_name, "' but no 'complements' entry");
    auto& f = frozen_[layer_name];
    f.s = tensor("s");
    f.left = {tensor("left"), sides->second[0]};
    f.right = {tensor("right"), sides->second[1]};
    if (state.tensors.count("top/" + layer_name) != 0) f.top = tensor("top");
    if (state.tensors.count("U_l/" + layer_name) != 0) {  // the factor form, in the middle of a task
      if (layer->adapter_find(kFactors) != nullptr) layer->adapter_remove(kFactors);
      auto A = tensor("Vt_l"), B = tensor("U_l"), middle = tensor("s_l");
      for (auto* factor : {&A, &B, &middle}) factor->set_requires_grad(true);
      layer->adapter_add(kFactors, A, B, 1.0).middle = middle;
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
  s.form = options.get_word("form", s.form);
  if (!(s.unfreeze_rank_ratio > 0 && s.unfreeze_rank_ratio <= 1))
    fail("method", "osft: unfreeze_rank_ratio must be in (0, 1], got ", s.unfreeze_rank_ratio);
  if (!(s.mrr >= 0 && s.mrr <= s.trr && s.trr <= 1))
    fail("method", "osft: need 0 <= mrr <= trr <= 1, got ", s.mrr, " and ", s.trr);
  if (s.oversample < 0 || s.power_iterations < 0 || s.calibration_batches < 0)
    fail("method", "osft: oversample, power_iterations and calibration_batches must be >= 0");
  if (s.form == OsftForm::Factors && s.projection == OsftProjection::Paper)
    fail("method", "osft: projection = \"paper\" needs form = \"dense\" (the factor form projects each factor)");
  if (s.form == OsftForm::Factors && s.svd == OsftSvd::Randomized)
    fail("method", "osft: svd = \"randomized\" needs form = \"dense\" (the factor form trains every low triplet)");
  options.reject_unused("osft");
  return std::make_unique<Osft>(std::move(s));
}

}  // namespace retain::method
