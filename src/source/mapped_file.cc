#include "llm_log_exporter/source/mapped_file.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "llm_log_exporter/core/line.h"
#include "wall_seconds.h"

namespace lle {
namespace {

// Pages before the oldest chunk in use are given back in steps of this much:
// each step is a system call and a TLB flush on the other workers' CPUs.
constexpr std::size_t kGiveBackBytes = 1024 * 1024;

// The one mapping whose lost pages the SIGBUS handler replaces.
std::atomic<char*> g_begin{nullptr};
std::atomic<char*> g_end{nullptr};
std::atomic<bool> g_truncated{false};
std::atomic<std::size_t> g_page{4096};
struct sigaction g_previous;

void OnSigbus(int /*sig*/, siginfo_t* info, void* /*context*/) {
  char* const addr = static_cast<char*>(info->si_addr);
  char* const begin = g_begin.load();
  char* const end = g_end.load();
  if (begin != nullptr && addr >= begin && addr < end) {
    // Zeros from the lost page to the end of the mapping; the faulting load is
    // retried and reads them. mmap is a plain system call, safe here.
    char* const page = begin + ((addr - begin) & ~(g_page.load() - 1));
    if (mmap(page, static_cast<std::size_t>(end - page), PROT_READ,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
      g_truncated.store(true);
      return;
    }
  }
  // Not ours: the previous action takes the fault when the load is retried.
  sigaction(SIGBUS, &g_previous, nullptr);
}

}  // namespace

std::unique_ptr<MappedFile> MappedFile::Open(int fd, ChunkReaderOptions options,
                                             std::size_t workers) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  const off_t offset = lseek(fd, 0, SEEK_CUR);
  if (offset < 0 || offset >= st.st_size) return nullptr;
  char* expected = nullptr;
  if (!g_begin.compare_exchange_strong(expected, reinterpret_cast<char*>(1))) {
    return nullptr;  // another one is open: one handler, one mapping
  }
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  g_page.store(page);
  const auto first_page = static_cast<std::size_t>(offset) & ~(page - 1);
  const std::size_t skip = static_cast<std::size_t>(offset) - first_page;
  const std::size_t file_bytes = static_cast<std::size_t>(st.st_size) - first_page;
  const std::size_t round = page - 1;
  const std::size_t mapping_bytes = (file_bytes + kLinePadding + round) & ~round;
  // Reserve room for the padding first: past the file's last page a file
  // mapping raises SIGBUS, an anonymous one reads zeros.
  void* reserved = mmap(nullptr, mapping_bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* mapped = reserved == MAP_FAILED
                     ? MAP_FAILED
                     : mmap(reserved, file_bytes, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
                            static_cast<off_t>(first_page));
  if (mapped == MAP_FAILED) {
    if (reserved != MAP_FAILED) munmap(reserved, mapping_bytes);
    g_begin.store(nullptr);
    return nullptr;
  }
  char* const base = static_cast<char*>(mapped);
  madvise(base, file_bytes, MADV_SEQUENTIAL);
  const std::size_t data_bytes = file_bytes - skip;
  const char* last_nl = static_cast<const char*>(memrchr(base + skip, '\n', data_bytes));
  if (last_nl == nullptr) {
    munmap(base, mapping_bytes);
    g_begin.store(nullptr);
    return nullptr;
  }
  g_truncated.store(false);
  g_end.store(base + mapping_bytes);
  g_begin.store(base);
  struct sigaction action = {};
  action.sa_sigaction = OnSigbus;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, &g_previous);
  return std::unique_ptr<MappedFile>(new MappedFile(
      base, mapping_bytes, offset, skip, static_cast<std::size_t>(last_nl + 1 - (base + skip)),
      std::move(options), workers));
}

MappedFile::MappedFile(char* base, std::size_t mapping_bytes, off_t offset, std::size_t skip,
                       std::size_t size, ChunkReaderOptions options, std::size_t workers)
    : base_(base),
      mapping_bytes_(mapping_bytes),
      offset_(offset),
      skip_(skip),
      options_(std::move(options)),
      end_(size),
      in_use_(std::max<std::size_t>(1, workers), SIZE_MAX) {}

MappedFile::~MappedFile() {
  sigaction(SIGBUS, &g_previous, nullptr);
  munmap(base_, mapping_bytes_);
  g_end.store(nullptr);
  g_begin.store(nullptr);
}

bool MappedFile::truncated() { return g_truncated.load(); }

bool MappedFile::Next(std::size_t worker, Chunk* chunk) {
  std::lock_guard<std::mutex> lock(mutex_);
  in_use_[worker] = SIZE_MAX;
  if (next_ >= end_ || truncated()) {
    end_ = std::min(end_, next_);
    GiveBack();
    return false;
  }
  const char* const data = base_ + skip_;
  const std::size_t begin = next_;
  std::size_t end = end_;
  if (end - begin > options_.read_bytes) {
    // To the end of the line that crosses the chunk's size, if that line is
    // within the limit; else the chunk ends before it, and the stream reader
    // skips it (it does so without holding it whole).
    const std::size_t from = begin + options_.read_bytes - 1;
    const std::size_t window = std::min(end - from, options_.max_line_bytes + 2);
    const char* nl = static_cast<const char*>(std::memchr(data + from, '\n', window));
    if (nl == nullptr) {
      const char* before = static_cast<const char*>(memrchr(data + begin, '\n', from - begin));
      end_ = before != nullptr ? static_cast<std::size_t>(before + 1 - data) : begin;
      if (end_ == begin) return false;
      end = end_;
    } else {
      end = static_cast<std::size_t>(nl + 1 - data);
    }
  }
  if (options_.chunk_end && end < end_) {
    const std::size_t keep = options_.chunk_end({data + begin, end - begin});
    if (keep > 0) end = begin + keep;
  }
  next_ = end;
  in_use_[worker] = begin;
  GiveBack();
  chunk->lines = {data + begin, end - begin};
  chunk->seq = options_.sequence != nullptr ? options_.sequence->fetch_add(1) + 1 : ++seq_;
  chunk->wall_seconds = WallSeconds();
  return true;
}

void MappedFile::GiveBack() {
  std::size_t oldest = next_;
  for (const std::size_t begin : in_use_) oldest = std::min(oldest, begin);
  const std::size_t until = (skip_ + oldest) & ~(g_page.load() - 1);
  if (until < given_back_ + kGiveBackBytes) return;
  madvise(base_ + given_back_, until - given_back_, MADV_DONTNEED);
  given_back_ = until;
}

}  // namespace lle
