// The trainer's settings (the train.* keys), built once by the application layer.
#pragma once

#include <cstdint>
#include <string>

namespace pocketrec::train {

struct TrainOptions {
  int64_t epochs = 50, batch_size = 1024;
  double lr = 1e-3;
  double l2 = 0.0;            // coupled L2 (Adam weight_decay: added to the gradient)
  double weight_decay = 0.0;  // decoupled (AdamW); both set is an error
  int64_t eval_every = 1;     // validate every n epochs (and after the last)
  int64_t patience = 5;       // validation rounds without improvement before stopping (0 = never)
  uint64_t seed = 2024;       // shuffling and sampling
  std::string valid_metric = "ndcg@10";
  bool resume = false;     // continue from run_dir/checkpoint_last.ckpt
  bool checkpoint = true;  // write checkpoint_last.ckpt (every epoch) and checkpoint_best.ckpt
  std::string run_dir;     // checkpoints and train_log.jsonl go here; empty = nothing is written
  // What a resumed run must repeat (a JSON object, e.g. the resolved config without the keys that
  // may change on resumption): stored in the checkpoint and compared on resume.
  std::string run_identity = "{}";
};

// Data-parallel training (the dist.* keys; data_parallel.h).
struct DistOptions {
  int64_t world_size = 1;
  int64_t rank = 0;
  std::string master = "127.0.0.1:29500";  // host:port of rank 0's rendezvous store
  double timeout_s = 300;                  // any collective or the rendezvous
};

}  // namespace pocketrec::train
