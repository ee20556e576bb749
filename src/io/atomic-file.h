// atomic-file.h - files that are either the old version or the new one after a crash, never a mix:
// written to path.tmp, fsynced, renamed over path, and the folder fsynced.
#pragma once

#include <cstddef>
#include <string>

namespace retain::io {

// Without commit() the temporary file is removed.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void commit();

 private:
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

// The whole of `text` into `path`, atomically.
void write_file_atomic(const std::string& path, const std::string& text);

// Makes `path` durable in its folder (fsync of the folder after a rename).
void sync_folder_of(const std::string& path);

}  // namespace retain::io
