// Training checkpoints: LibTorch archives sealed with a length + CRC-32 trailer and written
// atomically, so a truncated or corrupt file is refused by name instead of being half-read. They
// are for resuming only; `model.prarr` and `.pocket` files are the stable formats.
#pragma once

#include <string>

#include <torch/torch.h>

namespace pocketrec::train {

void write_checkpoint(const std::string& path, torch::serialize::OutputArchive& archive);
// Error(kBadFormat / kChecksumMismatch) naming the file if it is not a whole checkpoint.
torch::serialize::InputArchive read_checkpoint(const std::string& path);

// Every parameter and buffer of `module` under "param/<name>" and "buffer/<name>".
void write_module(torch::serialize::OutputArchive& archive, torch::nn::Module& module);
// Reads every parameter and buffer of `module` from names prefix + <name>, checking names and shapes.
void read_module(torch::serialize::InputArchive& archive, torch::nn::Module& module, const std::string& path,
                 const std::string& prefix = "");

// Reads the weights of a checkpoint file into `module` (names and shapes must match). A
// distillation checkpoint holds the distillation's module, the student under "student.": its
// weights are read from there.
void load_checkpoint_weights(torch::nn::Module& module, const std::string& path);

// Strings stored as uint8 tensors in an archive.
torch::Tensor string_tensor(const std::string& s);
std::string tensor_string(const torch::Tensor& t);

}  // namespace pocketrec::train
