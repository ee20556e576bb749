// fuzz-file.h - for the targets whose parser reads a path: the input written to a file of this
// process (libFuzzer runs one input at a time), in /dev/shm when there is one.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace retain::fuzz {

// A folder of this process, made once and removed at exit.
inline const std::string& fuzz_dir() {
  struct Folder {
    std::string path;
    Folder() {
      const std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
      path = base + "/retain-fuzz-" + std::to_string(getpid());
      std::filesystem::create_directories(path);
    }
    ~Folder() { std::filesystem::remove_all(path); }
  };
  static const Folder folder;
  return folder.path;
}

// Writes `size` bytes to fuzz_dir()/name and returns the path.
inline std::string fuzz_file(const uint8_t* data, size_t size, const std::string& name) {
  const auto path = fuzz_dir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), size);
  return path;
}

}  // namespace retain::fuzz
