#include "kernels/counter_based_dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cstring>
#include <mutex>
#include <type_traits>

#include "core/error.h"

namespace pocketrec::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment (2^64 / golden ratio)

// SplitMix64's output function (the variant-13 finaliser of MurmurHash3's fmix64).
inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// v if keep, else +0, without a branch: the keep decision is a coin flip, so a branch would
// mispredict half the time (the compiler turns a select on it back into one).
template <typename T>
inline T keep_or_zero(T v, bool keep) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  U u;
  std::memcpy(&u, &v, sizeof u);
  u &= U(0) - static_cast<U>(keep);
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// out[i] = keep_i ? in[i] * scale : 0 for i in [begin, end). Elements 2k and 2k+1 take the low and
// high 32 bits of word k = mix(seed + (k + 1) * gamma): SplitMix64's k-th output.
template <typename T>
void apply_mask(const T* in, T* out, int64_t begin, int64_t end, uint64_t seed, uint64_t threshold, T scale) {
  auto word = [seed](int64_t i) { return mix(seed + (static_cast<uint64_t>(i / 2) + 1) * kGamma); };
  auto low = [](uint64_t w) { return w & 0xffffffffull; };
  int64_t i = begin;
  if (i < end && (i & 1)) {
    out[i] = keep_or_zero(in[i] * scale, (word(i) >> 32) < threshold);
    ++i;
  }
  for (; i + 1 < end; i += 2) {
    const uint64_t w = word(i);
    out[i] = keep_or_zero(in[i] * scale, low(w) < threshold);
    out[i + 1] = keep_or_zero(in[i + 1] * scale, (w >> 32) < threshold);
  }
  if (i < end) out[i] = keep_or_zero(in[i] * scale, low(word(i)) < threshold);
}

torch::Tensor masked(const torch::Tensor& x, double p, uint64_t seed) {
  const torch::Tensor in = x.contiguous();
  torch::Tensor out = torch::empty_like(in);
  // Keep iff 32 random bits < (1 - p) * 2^32; 0 < p < 1 here, so the threshold fits in 32 bits.
  const uint64_t threshold = static_cast<uint64_t>((1.0 - p) * 4294967296.0);
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "counter_based_dropout", [&] {
    const scalar_t* src = in.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    const auto scale = static_cast<scalar_t>(1.0 / (1.0 - p));
    at::parallel_for(0, in.numel(), 1 << 14,
                     [&](int64_t begin, int64_t end) { apply_mask(src, dst, begin, end, seed, threshold, scale); });
  });
  return out;
}

class CounterBasedDropoutFunction : public torch::autograd::Function<CounterBasedDropoutFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, double p) {
    uint64_t seed;
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      seed = at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
    }
    int64_t stored;
    std::memcpy(&stored, &seed, sizeof seed);
    ctx->saved_data["seed"] = stored;
    ctx->saved_data["p"] = p;
    return masked(x, p, seed);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const int64_t stored = ctx->saved_data["seed"].toInt();
    uint64_t seed;
    std::memcpy(&seed, &stored, sizeof seed);
    return {masked(grads[0], ctx->saved_data["p"].toDouble(), seed), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor counter_based_dropout(const torch::Tensor& x, double p, bool training) {
  PR_CHECK(p >= 0 && p <= 1, ErrorCode::kInvalidArgument, "dropout probability must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  if (p == 1) return x * 0;
  PR_CHECK(at::isFloatingType(x.scalar_type()), ErrorCode::kInvalidArgument,
           "dropout: expected a floating-point tensor");
  return CounterBasedDropoutFunction::apply(x, p);
}

CounterBasedDropoutImpl::CounterBasedDropoutImpl(double p) : p_(p) {
  PR_CHECK(p >= 0 && p <= 1, ErrorCode::kInvalidArgument, "dropout probability must be in [0, 1], got {}", p);
}

}  // namespace pocketrec::kernels
