// streams.h - little streams the tests run end to end (written into a scratch folder), and the
// `retain` binary they run as a separate process.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "data/idx.h"
#include "test-support.h"

namespace retain::test {

// A little image classification stream on synthetic IDX files: 4 classes, each a bright square at
// its own corner of an 8×8 image plus noise.
inline void write_idx(const std::string& images_path, const std::string& labels_path, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  retain::data::ImageExamples images;
  images.rows = images.cols = 8;
  for (int i = 0; i < n; ++i) {
    const int label = i % 4;
    for (int r = 0; r < 8; ++r) {
      for (int c = 0; c < 8; ++c) {
        const bool lit = (r < 4) == (label < 2) && (c < 4) == (label % 2 == 0);
        images.pixels.push_back(static_cast<uint8_t>((lit ? 160 : 0) + rng() % 90));
      }
    }
    images.labels.push_back(label);
  }
  std::ofstream(images_path, std::ios::binary) << retain::data::idx_images_bytes(images);
  std::ofstream(labels_path, std::ios::binary) << retain::data::idx_labels_bytes(images.labels);
}

inline std::string image_stream(const std::string& dir, const std::string& method) {
  std::filesystem::create_directories(dir + "/vit");
  std::ofstream(dir + "/vit/config.json") << R"({"model_type": "vit", "image_size": 8, "patch_size": 4,
    "num_channels": 1, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
    "intermediate_size": 32, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "qkv_bias": true,
    "initializer_range": 0.02, "num_labels": 4})";
  write_idx(dir + "/train-images", dir + "/train-labels", 128, 1);
  write_idx(dir + "/test-images", dir + "/test-labels", 64, 2);
  std::ofstream stream(dir + "/stream.toml");
  stream << "[run]\nseed = 3\ndevice = \"cpu\"\n[model]\ninit = \"vit/config.json\"\n[method]\nname = \"" << method
         << "\"\n[train]\nepochs = 2\nbatch_size = 8\nlr = 3e-3\nweight_decay = 0.01\nschedule = \"cosine\"\n"
         << "warmup_ratio = 0.2\ncheckpoint_every = 3\nlog_every = 4\n";
  for (int t = 0; t < 2; ++t) {
    stream << "[[task]]\nname = \"t" << t << "\"\nkind = \"image-classification\"\n"
           << "train = \"train-images\"\ntrain_labels = \"train-labels\"\ntest = \"test-images\"\n"
           << "test_labels = \"test-labels\"\nclasses = [" << 2 * t << ", " << 2 * t + 1 << "]\n";
  }
  return dir + "/stream.toml";
}

inline std::string retain_binary() { return RETAIN_BINARY_DIR "/retain"; }

inline int run_command(const std::string& command) {
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Two generation tasks' files in DIR: copy-{train,test}.jsonl (a word, then the word) and
// upper-{train,test}.jsonl (a word, then the word twice).
inline void write_word_tasks(const std::string& dir) {
  for (const char* split : {"train", "test"}) {
    std::ofstream copy(dir + "/copy-" + split + ".jsonl"), upper(dir + "/upper-" + split + ".jsonl");
    for (const char* word : {"cat", "dog", "sun", "tree", "moon", "fish"}) {
      copy << R"({"input": ")" << word << R"(", "output": " )" << word << "\"}\n";
      upper << R"({"input": ")" << word << R"(", "output": " )" << word << " " << word << "\"}\n";
    }
  }
}

inline const char* kWordTasks =
    "[[task]]\nname = \"copy\"\nkind = \"generation\"\ntrain = \"copy-train.jsonl\"\ntest = \"copy-test.jsonl\"\n"
    "template = \"Copy: {input}\\n\"\n"
    "[[task]]\nname = \"twice\"\nkind = \"generation\"\ntrain = \"upper-train.jsonl\"\ntest = "
    "\"upper-test.jsonl\"\n"
    "template = \"Twice: {input}\\n\"\nmetric = \"rouge_l\"\n";

// A little decoder stream in DIR/stream.toml: the two word tasks and a text task, on a 1-layer
// Llama with the real Llama-2 tokenizer (`tokenizer`).
inline std::string text_stream(const std::string& dir, const std::string& tokenizer) {
  std::filesystem::create_directories(dir + "/llama");
  std::ofstream(dir + "/llama/config.json") << R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
    "vocab_size": 32000, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
    "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 128, "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0, "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2,
    "initializer_range": 0.02})";
  write_word_tasks(dir);
  std::ofstream(dir + "/general.txt")
      << "The cat sat on the mat.\n\nThe dog ran in the sun.\n\nA tree grew by the sea.\n";
  std::ofstream(dir + "/stream.toml") << "[run]\nname = \"text\"\nout = \"" << dir << "/runs\"\n"
                                      << "[model]\ninit = \"llama/config.json\"\ntokenizer = \"" << tokenizer << "\"\n"
                                      << "[train]\nepochs = 2\nbatch_size = 4\nlr = 1e-2\nmax_length = 32\n"
                                      << "[eval]\nmax_new_tokens = 4\ngeneral_text = \"general.txt\"\n"
                                      << kWordTasks
                                      << "[[task]]\nname = \"text\"\nkind = \"text\"\ntrain = \"general.txt\"\n";
  return dir + "/stream.toml";
}

// The two word tasks in DIR/stream.toml on the committed T5 fixture (tests/fixtures/hf/t5: its
// weights, 384 embedding rows, and its SentencePiece Unigram tokenizer.json). Not fixtures_dir():
// other fixture sets' T5 has fewer rows than this tokenizer's ids.
inline std::string t5_stream(const std::string& dir) {
  std::filesystem::create_directories(dir);
  write_word_tasks(dir);
  std::ofstream(dir + "/stream.toml")
      << "[run]\nname = \"t5\"\nout = \"" << dir << "/runs\"\nseed = 5\n"
      << "[model]\npath = \"" RETAIN_SOURCE_DIR "/tests/fixtures/hf/t5\"\n"
      << "[train]\nepochs = 6\nbatch_size = 4\nlr = 1e-2\nmax_length = 32\nlog_every = 1\n"
      << "[eval]\nmax_new_tokens = 4\n"
      << kWordTasks;
  return dir + "/stream.toml";
}

inline std::string llama2_tokenizer() { return tokenizer_dir() + "/llama2-tokenizer.json"; }

}  // namespace retain::test
