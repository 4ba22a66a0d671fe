#include "train/checkpoint.h"

#include <cstring>
#include <sstream>

#include "core/array_archive.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/text.h"

namespace pocketrec::train {
namespace {

constexpr char kTrailerMagic[8] = {'P', 'R', 'C', 'K', 'P', 'T', '0', '1'};
constexpr size_t kTrailerSize = 8 + 8 + 4;  // magic, payload length, CRC-32 of the payload

}  // namespace

torch::Tensor string_tensor(const std::string& s) {
  return torch::from_blob(const_cast<char*>(s.data()), {static_cast<int64_t>(s.size())}, torch::kUInt8).clone();
}

std::string tensor_string(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
}

void write_checkpoint(const std::string& path, torch::serialize::OutputArchive& archive) {
  std::ostringstream os;
  archive.save_to(os);
  std::string bytes = os.str();
  const uint64_t len = bytes.size();
  const uint32_t crc = crc32_of(bytes.data(), bytes.size());
  bytes.append(kTrailerMagic, sizeof(kTrailerMagic));
  bytes.append(reinterpret_cast<const char*>(&len), sizeof(len));
  bytes.append(reinterpret_cast<const char*>(&crc), sizeof(crc));
  write_file_atomic(path, bytes);
}

torch::serialize::InputArchive read_checkpoint(const std::string& path) {
  std::string bytes = read_file(path);
  PR_CHECK(bytes.size() >= kTrailerSize &&
               std::memcmp(bytes.data() + bytes.size() - kTrailerSize, kTrailerMagic, sizeof(kTrailerMagic)) == 0,
           ErrorCode::kBadFormat, "{}: not a PocketRec checkpoint, or truncated (no trailer)", path);
  uint64_t len;
  uint32_t crc;
  std::memcpy(&len, bytes.data() + bytes.size() - 12, 8);
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  PR_CHECK(len == bytes.size() - kTrailerSize, ErrorCode::kBadFormat,
           "{}: checkpoint says {} bytes but holds {}: truncated or corrupt", path, len, bytes.size() - kTrailerSize);
  PR_CHECK(crc32_of(bytes.data(), len) == crc, ErrorCode::kChecksumMismatch,
           "{}: checksum mismatch: corrupt checkpoint", path);
  bytes.resize(len);
  std::istringstream is(bytes);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(is);
  } catch (const c10::Error& e) {
    PR_FAIL(ErrorCode::kBadFormat, "{}: cannot read checkpoint: {}", path, e.what_without_backtrace());
  }
  return archive;
}

void write_module(torch::serialize::OutputArchive& archive, torch::nn::Module& module) {
  for (const auto& p : module.named_parameters()) archive.write("param/" + p.key(), p.value().detach());
  for (const auto& b : module.named_buffers()) archive.write("buffer/" + b.key(), b.value());
}

void read_module(torch::serialize::InputArchive& archive, torch::nn::Module& module, const std::string& path,
                 const std::string& prefix) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters()) {
    torch::Tensor t;
    PR_CHECK(archive.try_read("param/" + prefix + p.key(), t), ErrorCode::kBadFormat, "{}: parameter '{}' is missing",
             path, p.key());
    PR_CHECK(t.sizes() == p.value().sizes(), ErrorCode::kBadFormat, "{}: parameter '{}' has shape [{}], expected [{}]",
             path, p.key(), fmt::join(t.sizes(), ","), fmt::join(p.value().sizes(), ","));
    p.value().copy_(t);
  }
  for (auto& b : module.named_buffers()) {
    torch::Tensor t;
    PR_CHECK(archive.try_read("buffer/" + prefix + b.key(), t) && t.sizes() == b.value().sizes(), ErrorCode::kBadFormat,
             "{}: buffer '{}' is missing or has another shape", path, b.key());
    b.value().copy_(t);
  }
}

void load_checkpoint_weights(torch::nn::Module& module, const std::string& path) {
  auto archive = read_checkpoint(path);
  torch::Tensor probe;
  const auto params = module.named_parameters();
  const bool distilled = !params.is_empty() && !archive.try_read("param/" + params.begin()->key(), probe) &&
                         archive.try_read("param/student." + params.begin()->key(), probe);
  read_module(archive, module, path, distilled ? "student." : "");
}

}  // namespace pocketrec::train
