// Every fixture model computes the same on the GPU as on the CPU (float32, TF32 off), and generates
// the same tokens. Runs where a CUDA build sees a GPU; skipped elsewhere (the CI machine has none).
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include <filesystem>

#include "device.h"
#include "error.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "test-support.h"

namespace {

using namespace retain;

class DeviceParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
};

TEST_P(DeviceParity, GpuMatchesCpu) {
  const auto dir = test::fixture_path(GetParam());
  auto golden = io::safetensors_load(dir + "/golden.safetensors").tensors;
  model::Batch cpu_batch, gpu_batch;
  for (const auto& [key, field] :
       {std::pair<const char*, torch::Tensor model::Batch::*>{"input_ids", &model::Batch::input_ids},
        {"attention_mask", &model::Batch::attention_mask},
        {"labels", &model::Batch::labels},
        {"pixel_values", &model::Batch::pixel_values}}) {
    if (!golden.count(key)) continue;
    cpu_batch.*field = golden.at(key);
    gpu_batch.*field = golden.at(key).to(torch::kCUDA);
  }
  auto cpu = model::model_load(dir);
  auto gpu = model::model_load(dir, {torch::kFloat, torch::Device(torch::kCUDA, 0)});
  torch::NoGradGuard no_grad;
  auto a = cpu->forward(cpu_batch), b = gpu->forward(gpu_batch);
  EXPECT_LT((a.logits - b.logits.cpu()).abs().max().item<double>(), 1e-4);
  if (a.loss.defined()) {
    EXPECT_LT(std::abs(a.loss.item<double>() - b.loss.item<double>()), 1e-5);
  }
  if (golden.count("generate.prompt")) {
    model::GenerateOptions options;
    options.max_new_tokens = 8;
    auto prompt = golden.at("generate.prompt");
    auto on_cpu = model::generate_greedy(*cpu, prompt, {}, options);
    auto on_gpu = model::generate_greedy(*gpu, prompt.to(torch::kCUDA), {}, options).cpu();
    EXPECT_TRUE(torch::equal(on_cpu, on_gpu)) << on_cpu << on_gpu;
  }
  auto stats = device::memory_stats(torch::Device(torch::kCUDA, 0));
  EXPECT_GT(stats.peak_bytes, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DeviceParity, ::testing::ValuesIn(test::model_fixtures()),
                         test::param_name<::testing::TestParamInfo<std::string>>);

TEST(Device, ParseNamesAndRefusals) {
  EXPECT_EQ(device::parse("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(device::parse("auto").is_cuda(), torch::cuda::is_available());
  EXPECT_THROW(device::parse("tpu"), Error);
  if (!torch::cuda::is_available()) {
    // A CPU-only build, or no GPU present: asking for one is a clear error, not a crash.
    EXPECT_THROW(device::parse("cuda"), Error);
  }
  // On the CPU the peak is the process's resident memory: at least what a fresh 64 MB tensor occupies.
  auto big = torch::ones({16, 1024, 1024});
  EXPECT_GE(device::memory_stats(torch::kCPU).peak_bytes, big.nbytes());
}

}  // namespace
