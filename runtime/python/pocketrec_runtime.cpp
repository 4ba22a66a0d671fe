// The Python module pocketrec_runtime: the runtime's C API (include/pocketrec/pocketrec.h) with NumPy
// arrays in and out.
//
//   import pocketrec_runtime as pr
//   m = pr.Model("student.pocket")
//   items, scores = m.recommend([12, 55, 7], k=20, exclude_history=True)
//   items, scores = m.recommend_batch(histories, offsets, k=20)   # CSR-style, like the C API
//
// Every call releases the GIL while it scores. A Model keeps a pool of scoring contexts (one per
// thread at a time, reused across calls), so Python threads may share one Model; recommend_batch
// splits its queries over `threads` native threads, each with its own context. Failures of the
// runtime raise pocketrec_runtime.Error (a RuntimeError) carrying the runtime's status and message;
// arguments of the wrong type or shape raise TypeError / ValueError before anything is scored.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pocketrec/pocketrec.h"

namespace py = pybind11;

namespace {

// A failed runtime call: translated to pocketrec_runtime.Error with .status (name) and .code.
struct RuntimeFailure : std::runtime_error {
  RuntimeFailure(pocketrec_status s, const std::string& message) : std::runtime_error(message), status(s) {}
  pocketrec_status status;
};

void check(pocketrec_status s) {
  if (s != POCKETREC_STATUS_OK) throw RuntimeFailure(s, pocketrec_last_error());
}

using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// A one-dimensional array of integer ids from any array-like; floats, strings and the like are
// refused rather than silently truncated (an empty sequence is fine: the runtime reports it).
IdArray as_ids(const py::handle& obj, const char* what) {
  py::array a = py::array::ensure(obj);
  if (!a) throw py::type_error(std::string(what) + " must be a sequence or NumPy array of integer ids");
  if (a.ndim() != 1)
    throw py::value_error(std::string(what) + " must be one-dimensional, got " + std::to_string(a.ndim()) +
                          " dimensions");
  const char kind = a.dtype().kind();
  if (a.size() > 0 && kind != 'i' && kind != 'u')
    throw py::type_error(std::string(what) + " must hold integers, got dtype " +
                         py::str(a.dtype()).cast<std::string>());
  return IdArray::ensure(a);
}

pocketrec_scoring parse_scoring(const std::string& name) {
  if (name == "auto") return POCKETREC_SCORING_AUTO;
  if (name == "cores") return POCKETREC_SCORING_CORES;
  if (name == "fp32_table") return POCKETREC_SCORING_FP32_TABLE;
  if (name == "int8_table") return POCKETREC_SCORING_INT8_TABLE;
  throw py::value_error("scoring must be one of auto, cores, fp32_table, int8_table; got '" + name + "'");
}

const char* scoring_name(pocketrec_scoring s) {
  switch (s) {
    case POCKETREC_SCORING_CORES: return "cores";
    case POCKETREC_SCORING_FP32_TABLE: return "fp32_table";
    case POCKETREC_SCORING_INT8_TABLE: return "int8_table";
    case POCKETREC_SCORING_AUTO: break;
  }
  return "auto";
}

class Model {
 public:
  Model(const std::string& path, const std::string& scoring) {
    pocketrec_model_params p = pocketrec_model_default_params();
    p.scoring = parse_scoring(scoring);
    pocketrec_status s;
    {
      py::gil_scoped_release unlocked;
      s = pocketrec_model_load_file(path.c_str(), &p, &model_);
    }
    check(s);
  }
  Model(const py::bytes& data, const std::string& scoring) {
    pocketrec_model_params p = pocketrec_model_default_params();
    p.scoring = parse_scoring(scoring);
    const std::string_view bytes = data;
    check(pocketrec_model_load_buffer(bytes.data(), bytes.size(), &p, &model_));
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model() {
    for (pocketrec_context* c : pool_) pocketrec_context_free(c);
    pocketrec_model_free(model_);
  }

  size_t n_items() const { return pocketrec_model_n_items(model_); }
  bool needs_user() const { return pocketrec_model_n_users(model_) > 0; }

  py::tuple recommend(const py::handle& history_obj, size_t k, bool exclude_history, std::optional<int64_t> user) {
    const IdArray history = as_ids(history_obj, "history");
    check_k(k);
    check_user(user.has_value());
    py::array_t<int64_t> items(static_cast<py::ssize_t>(k));
    py::array_t<float> scores(static_cast<py::ssize_t>(k));
    size_t n_out = 0;
    {
      py::gil_scoped_release unlocked;
      Lease ctx(*this);
      if (user) check(pocketrec_context_set_user(ctx.get(), *user));
      check(pocketrec_recommend(ctx.get(), history.data(), static_cast<size_t>(history.size()), k, exclude_history,
                                items.mutable_data(), scores.mutable_data(), &n_out));
    }
    items.resize({static_cast<py::ssize_t>(n_out)});
    scores.resize({static_cast<py::ssize_t>(n_out)});
    return py::make_tuple(items, scores);
  }

  // Query q reads history[offsets[q] .. offsets[q + 1]); rows with fewer than k results (a catalogue
  // smaller than k) are padded with id -1 and score -inf.
  py::tuple recommend_batch(const py::handle& history_obj, const py::handle& offsets_obj, size_t k,
                            bool exclude_history, const py::handle& users_obj, int threads) {
    const IdArray history = as_ids(history_obj, "history");
    const IdArray offsets_in = as_ids(offsets_obj, "offsets");
    check_k(k);
    if (offsets_in.size() < 1) throw py::value_error("offsets needs n_queries + 1 entries (at least one)");
    const size_t n_queries = static_cast<size_t>(offsets_in.size() - 1);
    std::vector<size_t> offsets(n_queries + 1);
    for (size_t q = 0; q <= n_queries; ++q) {
      const int64_t o = offsets_in.at(static_cast<py::ssize_t>(q));
      if (o < 0 || o > history.size() || (q > 0 && o < offsets_in.at(static_cast<py::ssize_t>(q - 1))))
        throw py::value_error("offsets[" + std::to_string(q) + "] = " + std::to_string(o) +
                              ": offsets must be non-decreasing and within the history's " +
                              std::to_string(history.size()) + " entries");
      offsets[q] = static_cast<size_t>(o);
    }
    std::optional<IdArray> users;
    if (!users_obj.is_none()) {
      users = as_ids(users_obj, "users");
      if (static_cast<size_t>(users->size()) != n_queries)
        throw py::value_error("users has " + std::to_string(users->size()) + " entries for " +
                              std::to_string(n_queries) + " queries");
    }
    check_user(users.has_value());
    if (threads < 0) throw py::value_error("threads must be >= 0 (0: one per core)");

    const py::ssize_t rows = static_cast<py::ssize_t>(n_queries), cols = static_cast<py::ssize_t>(k);
    py::array_t<int64_t> items({rows, cols});
    py::array_t<float> scores({rows, cols});
    std::vector<size_t> counts(n_queries, 0);
    int64_t* out_items = items.mutable_data();
    float* out_scores = scores.mutable_data();
    {
      py::gil_scoped_release unlocked;
      size_t n_threads = threads > 0 ? static_cast<size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
      n_threads = std::max<size_t>(1, std::min(n_threads, n_queries));
      // Contiguous chunks of queries; each worker scores its chunk with its own context. The results
      // do not depend on the number of threads (every query is scored alone).
      std::vector<std::optional<RuntimeFailure>> failures(n_threads);
      auto work = [&](size_t t) {
        const size_t begin = n_queries * t / n_threads, end = n_queries * (t + 1) / n_threads;
        try {
          Lease ctx(*this);
          if (!users) {
            check(pocketrec_recommend_batch(ctx.get(), history.data(), offsets.data() + begin, end - begin, k,
                                            exclude_history, out_items + begin * k, out_scores + begin * k,
                                            counts.data() + begin));
            return;
          }
          for (size_t q = begin; q < end; ++q) {
            check(pocketrec_context_set_user(ctx.get(), users->at(static_cast<py::ssize_t>(q))));
            check(pocketrec_recommend(ctx.get(), history.data() + offsets[q], offsets[q + 1] - offsets[q], k,
                                      exclude_history, out_items + q * k, out_scores + q * k, &counts[q]));
          }
        } catch (const RuntimeFailure& e) {
          failures[t] = e;
        }
      };
      if (n_threads == 1 || n_queries == 0) {
        work(0);
      } else {
        std::vector<std::thread> pool;
        for (size_t t = 0; t < n_threads; ++t) pool.emplace_back(work, t);
        for (std::thread& th : pool) th.join();
      }
      for (const auto& f : failures)
        if (f) throw *f;
      for (size_t q = 0; q < n_queries; ++q)
        for (size_t j = counts[q]; j < k; ++j) {
          out_items[q * k + j] = -1;
          out_scores[q * k + j] = -std::numeric_limits<float>::infinity();
        }
    }
    return py::make_tuple(items, scores);
  }

  // Every item's score in the model's item order (item_ids()), nothing excluded.
  py::array_t<float> score_all(const py::handle& history_obj, std::optional<int64_t> user) {
    const IdArray history = as_ids(history_obj, "history");
    check_user(user.has_value());
    py::array_t<float> scores(static_cast<py::ssize_t>(n_items()));
    float* out = scores.mutable_data();
    {
      py::gil_scoped_release unlocked;
      Lease ctx(*this);
      if (user) check(pocketrec_context_set_user(ctx.get(), *user));
      check(pocketrec_score_all(ctx.get(), history.data(), static_cast<size_t>(history.size()), out));
    }
    return scores;
  }

  py::array_t<int64_t> item_ids() const {
    py::array_t<int64_t> ids(static_cast<py::ssize_t>(n_items()));
    int64_t* out = ids.mutable_data();
    for (size_t i = 0; i < n_items(); ++i) out[i] = pocketrec_model_item_id(model_, i);
    return ids;
  }

  py::dict info() const {
    auto meta = [&](const char* key, const char* fallback) {
      const char* v = pocketrec_model_meta_string(model_, key);
      return std::string(v ? v : fallback);
    };
    py::dict d;
    d["architecture"] = pocketrec_model_architecture(model_);
    d["item_table"] = meta("sasrec.item_table", "dense");
    d["dtype"] = meta("pocketrec.weights", "fp32");
    d["scoring"] = scoring_name(pocketrec_model_scoring(model_));
    d["n_items"] = n_items();
    d["n_users"] = pocketrec_model_n_users(model_);
    d["dim"] = pocketrec_model_dim(model_);
    d["max_history"] = pocketrec_model_max_history(model_);
    d["file_bytes"] = pocketrec_model_file_bytes(model_);
    d["weight_bytes"] = pocketrec_model_weight_bytes(model_);
    d["kernel_isa"] = pocketrec_kernel_isa();
    return d;
  }

 private:
  // A context from the pool for the duration of one call (created when the pool is empty).
  class Lease {
   public:
    explicit Lease(Model& m) : m_(m) {
      {
        std::lock_guard<std::mutex> lock(m_.mu_);
        if (!m_.pool_.empty()) {
          ctx_ = m_.pool_.back();
          m_.pool_.pop_back();
        }
      }
      if (!ctx_) check(pocketrec_context_init(m_.model_, &ctx_));
    }
    ~Lease() {
      std::lock_guard<std::mutex> lock(m_.mu_);
      m_.pool_.push_back(ctx_);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    pocketrec_context* get() const { return ctx_; }

   private:
    Model& m_;
    pocketrec_context* ctx_ = nullptr;
  };

  static void check_k(size_t k) {
    if (k == 0) throw py::value_error("k must be at least 1");
  }
  // A pooled context keeps the last user it scored for, so a model with user embeddings always
  // needs the user passed explicitly, and one without refuses it here with a clear message.
  void check_user(bool given) const {
    if (needs_user() && !given)
      throw py::value_error(std::string("this ") + pocketrec_model_architecture(model_) +
                            " model scores for a user: pass user= (users= for recommend_batch)");
    if (!needs_user() && given)
      throw py::value_error(std::string("this ") + pocketrec_model_architecture(model_) +
                            " model reads only the history: user is not accepted");
  }

  pocketrec_model* model_ = nullptr;
  std::mutex mu_;
  std::vector<pocketrec_context*> pool_;
};

}  // namespace

PYBIND11_MODULE(pocketrec_runtime, m) {
  m.doc() = "PocketRec on-device runtime: top-k next-item recommendation from a .pocket model";
  m.attr("__version__") = pocketrec_version();

  // Error(message) with .status (the runtime's status name, e.g. "BAD_FORMAT") and .code (its value).
  static py::exception<RuntimeFailure> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const RuntimeFailure& e) {
      const auto type = py::reinterpret_borrow<py::object>(error.ptr());
      py::object exc = type(std::string(pocketrec_status_name(e.status)) + ": " + e.what());
      exc.attr("status") = pocketrec_status_name(e.status);
      exc.attr("code") = static_cast<int>(e.status);
      exc.attr("message") = e.what();
      PyErr_SetObject(error.ptr(), exc.ptr());
    }
  });

  m.def("kernel_isa", &pocketrec_kernel_isa, "The instruction set of the scoring kernels in use");
  m.def("format_version_max", &pocketrec_format_version_max, "The newest .pocket format version this runtime reads");

  py::class_<Model>(m, "Model", "A loaded .pocket model (immutable; safe to share between threads)")
      .def(py::init<const std::string&, const std::string&>(), py::arg("path"), py::arg("scoring") = "auto",
           "Load a .pocket file; scoring: auto, cores, fp32_table or int8_table")
      .def_static(
          "from_bytes", [](const py::bytes& data, const std::string& scoring) { return new Model(data, scoring); },
          py::arg("data"), py::arg("scoring") = "auto", "Load a model from the bytes of a .pocket file")
      .def("recommend", &Model::recommend, py::arg("history"), py::arg("k") = 20, py::arg("exclude_history") = true,
           py::arg("user") = py::none(),
           "The k best items after history (oldest first): (item ids int64[n], scores float32[n]), best first")
      .def("recommend_batch", &Model::recommend_batch, py::arg("history"), py::arg("offsets"), py::arg("k") = 20,
           py::arg("exclude_history") = true, py::arg("users") = py::none(), py::arg("threads") = 0,
           "Query q reads history[offsets[q]:offsets[q+1]]: (item ids int64[n, k], scores float32[n, k]); "
           "short rows padded with -1 / -inf; threads = 0 uses one per core")
      .def("score_all", &Model::score_all, py::arg("history"), py::arg("user") = py::none(),
           "Every item's score (float32[n_items]) in the order of item_ids()")
      .def("item_ids", &Model::item_ids, "The original item ids in the model's order (int64[n_items])")
      .def("info", &Model::info, "Architecture, item table, dtype, scoring, sizes and kernel ISA")
      .def_property_readonly("n_items", &Model::n_items);
}
