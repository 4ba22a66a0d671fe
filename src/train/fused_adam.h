// Adam with coupled L2 (torch::optim::Adam's algorithm and state) as one pass over each parameter.
// torch::optim::Adam runs about nine whole-tensor operations per parameter per step (L2 term, two
// moment updates, sqrt, divide, add eps, addcdiv) and allocates two temporaries; this loop reads and
// writes each element once: 2.6x faster on Caser-T's 1.71 M parameters (bench_training AdamStep/*).
// Same state (AdamParamState: step, exp_avg, exp_avg_sq), so checkpoints written by either load in
// either; results agree with torch::optim::Adam to float rounding (tests/train/test_fused_adam.cpp).
// Dense float gradients only; amsgrad is refused.
//
// release_gradients() replaces zero_grad() in the training loop: it leaves every gradient undefined,
// so backward stores the fresh gradient tensors instead of adding them into zeroed ones (Caser-T:
// one fill and one add over its 1.71 M parameters per step saved). A parameter that already has
// Adam state and gets no gradient in a step is stepped with a zero gradient, exactly as after
// zero_grad(), so results are bit for bit those of zero_grad() + step().
#pragma once

#include <torch/torch.h>

namespace pocketrec::train {

class FusedAdam : public torch::optim::Adam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);
  torch::Tensor step(LossClosure closure = nullptr) override;
  void release_gradients();
};

// The trainer's optimizer: FusedAdam (Adam with coupled L2) or another torch optimizer (AdamW).
struct Optimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  FusedAdam* fused = nullptr;  // = optimizer, when it is a FusedAdam
  // Before a backward pass: FusedAdam::release_gradients(), otherwise the optimizer's zero_grad().
  void clear_gradients();
};

}  // namespace pocketrec::train
