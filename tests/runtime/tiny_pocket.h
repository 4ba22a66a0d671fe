// A small random SASRec .pocket built without LibTorch, for the runtime's format, C API and fuzz
// tests: the same tensor names and metadata the exporter writes (src/export/exporter.cpp and models/sasrec.cpp).
#pragma once

#include <random>
#include <string>
#include <vector>

#include "export/pocket_writer.h"

namespace pocketrec::testing {

// Adds tensors of U(-0.5, 0.5) + offset values to a writer; matrices as i8 rows when int8.
struct RandomWeights {
  RandomWeights(exporter::PocketWriter& writer, uint32_t seed, bool int8) : w(writer), rng(seed), int8(int8) {}
  void add(const std::string& name, const std::vector<uint64_t>& dims, float offset = 0) {
    uint64_t n = 1;
    for (auto x : dims) n *= x;
    std::vector<float> v(n);
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    for (auto& x : v) x = u(rng) + offset;
    if (int8 && dims.size() >= 2)
      w.add_i8_rows(name, v.data(), dims);
    else
      w.add_f32(name, v.data(), dims);
  }
  exporter::PocketWriter& w;
  std::mt19937 rng;
  bool int8;
};

struct TinySasRec {
  bool odrec = true;
  bool stt = true;
  int64_t n_items = 30, dim = 8, max_len = 5, heads = 1, inner = 12, layers = 1;
  int64_t I1 = 5, I2 = 7, J1 = 2, J2 = 4, rank = 4, t = 2;  // STT shape (I1 I2 = 35 >= 30 items)
  bool pq = false;                                          // a product-quantised table (takes precedence over stt)
  int64_t M = 4, K = 8;
  bool pq_rotation = false;
  uint32_t seed = 3;
  int64_t id_base = -1;  // >= 0: ids id_base, id_base + 1, ... as "item_ids.base"; else 1000, 1007, ... as a tensor
  bool int8 = false;     // matrices as i8 with per-row scales (as `pocketrec export --dtype int8`)

  exporter::PocketWriter writer() const {
    exporter::PocketWriter w;
    RandomWeights random(w, seed, int8);
    auto add = [&](const std::string& name, std::vector<uint64_t> dims, float offset = 0) {
      random.add(name, dims, offset);
    };
    using U = uint64_t;
    w.set_string("pocketrec.architecture", odrec ? "sasrec-odrec" : "sasrec");
    w.set_i64("pocketrec.n_items", n_items);
    w.set_i64("sasrec.dim", dim);
    w.set_i64("sasrec.max_len", max_len);
    w.set_i64("sasrec.layers", layers);
    w.set_i64("sasrec.heads", heads);
    w.set_i64("sasrec.inner", inner);
    w.set_string("sasrec.item_table", pq ? "pq" : stt ? "stt" : "dense");
    if (pq) {
      w.set_i64("pq.subspaces", M);
      w.set_i64("pq.codewords", K);
      w.set_i64("pq.rotation", pq_rotation ? 1 : 0);
    } else if (stt) {
      w.set_i64_array("stt.items", {I1, I2});
      w.set_i64_array("stt.dims", {J1, J2});
      w.set_i64("stt.rank", rank);
      w.set_i64("stt.t", t);
      w.set_string("stt.layout", "canonical");
    }
    std::vector<int64_t> ids(static_cast<size_t>(n_items));
    for (int64_t i = 0; i < n_items; ++i) ids[i] = 1000 + 7 * i;  // original ids 1000, 1007, ...
    if (id_base >= 0)
      w.set_i64("item_ids.base", id_base);
    else
      w.add_i64("item_ids", ids.data(), {ids.size()});
    if (pq) {
      std::vector<uint8_t> codes(static_cast<size_t>(n_items * M));
      for (size_t i = 0; i < codes.size(); ++i)
        codes[i] = static_cast<uint8_t>((i * 5 + i / 3) % static_cast<size_t>(K));
      w.add_u8("pq_item.codes", codes.data(), {U(n_items), U(M)});
      add("pq_item.codebooks", {U(M), U(K), U(dim / M)});
      if (pq_rotation) {  // a rotation by 90 degrees in each pair of dimensions (orthogonal)
        std::vector<float> r(static_cast<size_t>(dim * dim), 0.0f);
        for (int64_t j = 0; j + 1 < dim; j += 2) r[j * dim + j + 1] = 1.0f, r[(j + 1) * dim + j] = -1.0f;
        w.add_f32("pq_item.rotation", r.data(), {U(dim), U(dim)});
      }
    } else if (stt) {
      add("stt_item.core0", {U(I1 * J1), U(rank)});
      add("stt_item.core1", {U(rank / t), U(I2 * J2 / t)});
    } else {
      add("item.weight", {U(n_items + 1), U(dim)});
    }
    add("pos.weight", {U(max_len), U(dim)});
    add("ln_in.weight", {U(dim)}, 1.0f);
    add("ln_in.bias", {U(dim)});
    for (int64_t l = 0; l < layers; ++l) {
      const std::string p = "blocks." + std::to_string(l) + ".";
      for (const char* lin : {"q", "k", "v", "o"}) {
        add(p + lin + ".weight", {U(dim), U(dim)});
        add(p + lin + ".bias", {U(dim)});
      }
      add(p + "ff1.weight", {U(inner), U(dim)});
      add(p + "ff1.bias", {U(inner)});
      add(p + "ff2.weight", {U(dim), U(inner)});
      add(p + "ff2.bias", {U(dim)});
      for (const char* ln : {"ln_attn", "ln_ffn"}) {
        add(p + ln + ".weight", {U(dim)}, 1.0f);
        add(p + ln + ".bias", {U(dim)});
      }
    }
    if (odrec) {
      add("readout.glu1.weight", {U(dim), U(dim)});
      add("readout.glu1.bias", {U(dim)});
      add("readout.glu2.weight", {U(dim), U(dim)});
      add("readout.w2.weight", {1, U(dim)});
    }
    return w;
  }
  std::string bytes() const { return writer().bytes(); }
};

// The header keys of a model over users (Caser, Fossil): architecture, sizes, ids 0.. as bases.
inline void write_user_model_header(exporter::PocketWriter& w, const std::string& architecture, int64_t n_items,
                                    int64_t n_users) {
  w.set_string("pocketrec.architecture", architecture);
  w.set_i64("pocketrec.n_items", n_items);
  w.set_i64("pocketrec.n_users", n_users);
  w.set_i64("item_ids.base", 0);
  w.set_i64("user_ids.base", 0);
}

// A small random Caser .pocket (the tensor names and metadata of src/export/exporter.cpp and models/sasrec.cpp).
struct TinyCaser {
  int64_t n_items = 20, n_users = 6, dim = 4, window = 3, nv = 2, nh = 2;
  uint32_t seed = 5;

  exporter::PocketWriter writer() const {
    exporter::PocketWriter w;
    RandomWeights random(w, seed, /*int8=*/false);
    auto add = [&](const std::string& name, std::vector<uint64_t> dims) { random.add(name, dims); };
    using U = uint64_t;
    write_user_model_header(w, "caser", n_items, n_users);
    w.set_i64("caser.dim", dim);
    w.set_i64("caser.window", window);
    w.set_i64("caser.nv", nv);
    w.set_i64("caser.nh", nh);
    w.set_string("caser.ac_conv", "relu");
    w.set_string("caser.ac_fc", "sigm");
    add("item.weight", {U(n_items + 1), U(dim)});
    add("user.weight", {U(n_users), U(dim)});
    add("conv_v.weight", {U(nv), 1, U(window), 1});
    add("conv_v.bias", {U(nv)});
    for (int64_t h = 1; h <= window; ++h) {
      add("conv_h." + std::to_string(h - 1) + ".weight", {U(nh), 1, U(h), U(dim)});
      add("conv_h." + std::to_string(h - 1) + ".bias", {U(nh)});
    }
    add("fc1.weight", {U(dim), U(nv * dim + nh * window)});
    add("fc1.bias", {U(dim)});
    add("W2.weight", {U(n_items + 1), U(2 * dim)});
    add("b2.weight", {U(n_items + 1), 1});
    return w;
  }
  std::string bytes() const { return writer().bytes(); }
};

// A Fossil file of random weights (docs/format.md), the shapes the exporter writes.
struct TinyFossil {
  int64_t n_items = 20, n_users = 6, dim = 4, window = 2, max_history = 8;
  uint32_t seed = 7;

  exporter::PocketWriter writer() const {
    exporter::PocketWriter w;
    RandomWeights random(w, seed, /*int8=*/false);
    using U = uint64_t;
    write_user_model_header(w, "fossil", n_items, n_users);
    w.set_i64("fossil.dim", dim);
    w.set_i64("fossil.window", window);
    w.set_f64("fossil.alpha", 0.5);
    w.set_i64("fossil.max_history", max_history);
    random.add("P.weight", {U(n_items), U(dim)});
    random.add("Q.weight", {U(n_items), U(dim)});
    random.add("beta.weight", {U(n_items), 1});
    random.add("eta", {U(window)});
    random.add("eta_u.weight", {U(n_users), U(window)});
    return w;
  }
  std::string bytes() const { return writer().bytes(); }
};

}  // namespace pocketrec::testing
