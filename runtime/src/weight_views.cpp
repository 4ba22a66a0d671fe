#include "weight_views.h"

#include <utility>
#include <vector>

namespace pocketrec::runtime {

Status read_linear(const PocketFile& f, const std::string& name, size_t in, size_t out, bool bias, WeightStore* store,
                   LinearView* v) {
  v->in = in;
  v->out = out;
  const float* w = nullptr;
  RT_TRY(f.get_weight(name + ".weight", {out, in}, store, &w));
  std::vector<float> wt(in * out);
  for (size_t o = 0; o < out; ++o)
    for (size_t i = 0; i < in; ++i) wt[i * out + o] = w[o * in + i];
  if (!store->decoded.empty() && store->decoded.back().data() == w)
    store->decoded.back() = std::move(wt);  // the decoded [out x in] copy is not needed
  else
    store->decoded.push_back(std::move(wt));
  v->w = store->decoded.back().data();
  v->b = nullptr;
  if (bias) RT_TRY(f.get_weight(name + ".bias", {out}, store, &v->b));
  return Status::Ok();
}

Status read_layer_norm(const PocketFile& f, const std::string& name, size_t d, WeightStore* store, LayerNormView* v) {
  RT_TRY(f.get_weight(name + ".weight", {d}, store, &v->gamma));
  return f.get_weight(name + ".bias", {d}, store, &v->beta);
}

}  // namespace pocketrec::runtime
