#pragma once

#include <string>

namespace lle::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with all it holds when
/// the test ends. Owns the directory; not copyable.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// The path of `name` in it (not created).
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  /// Writes `content` to `name` in it; returns the file's path. Throws if it cannot.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace lle::test
