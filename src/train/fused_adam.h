// Adam with coupled L2 (torch::optim::Adam's algorithm and state) as one pass over each parameter.
// torch::optim::Adam runs about nine whole-tensor operations per parameter per step (L2 term, two
// moment updates, sqrt, divide, add eps, addcdiv) and allocates two temporaries; this loop reads and
// writes each element once: 2.6x faster on Caser-T's 1.71 M parameters (bench_training AdamStep/*).
// Same state (AdamParamState: step, exp_avg, exp_avg_sq), so checkpoints written by either load in
// either; results agree with torch::optim::Adam to float rounding (tests/train/test_fused_adam.cpp).
// Dense float gradients only; amsgrad is refused.
#pragma once

#include <torch/torch.h>

namespace pocketrec::train {

class FusedAdam : public torch::optim::Adam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace pocketrec::train
