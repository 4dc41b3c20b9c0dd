// The native half of the Python package `encore` (python/encore/ holds the Python half): a
// thin pybind11 layer over encore::Model. It converts the Python inputs once, releases the GIL
// for tokenization and compute, and hands large results to NumPy without copying them.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <cmath>
#include <numeric>

#include "encore/error.hpp"
#include "encore/model.hpp"
#include "encore/precision.hpp"
#include "quant/plan.hpp"

namespace py = pybind11;

namespace encore::python {
namespace {

// One call's texts, and whether the caller gave a single input (its result is not wrapped
// in a list, as in transformers' pipelines).
struct Inputs {
  std::vector<TextInput> rows;
  bool single = false;
};

std::string type_name(py::handle h) {
  return py::str(py::type::handle_of(h).attr("__name__"));
}

// str -> UTF-8 without an intermediate copy; a lone surrogate raises UnicodeEncodeError (a
// ValueError), anything but str a TypeError.
std::string utf8(py::handle h, const char* what, std::size_t index) {
  if (!PyUnicode_Check(h.ptr()))
    throw py::type_error(std::string(what) + " " + std::to_string(index + 1) +
                         ": expected str, got " + type_name(h));
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(h.ptr(), &size);
  if (!data) throw py::error_already_set();
  return std::string(data, static_cast<std::size_t>(size));
}

// One input: "text", ("text", "pair") / ["text", "pair"], or {"text": ..., "text_pair": ...}.
TextInput to_input(py::handle h, std::size_t index, bool list_pairs) {
  if (PyUnicode_Check(h.ptr())) return {utf8(h, "input", index), std::nullopt};
  if (PyDict_Check(h.ptr())) {
    auto d = py::reinterpret_borrow<py::dict>(h);
    if (!d.contains("text"))
      throw py::value_error("input " + std::to_string(index + 1) +
                            ": a dict input needs a \"text\" key");
    for (auto item : d) {
      const std::string key = py::str(item.first);
      if (key != "text" && key != "text_pair")
        throw py::value_error("input " + std::to_string(index + 1) + ": unexpected key \"" + key +
                              "\" (a dict input has \"text\" and optionally \"text_pair\")");
    }
    TextInput in{utf8(d["text"], "input", index), std::nullopt};
    if (d.contains("text_pair") && !d["text_pair"].is_none())
      in.pair = utf8(d["text_pair"], "input", index);
    return in;
  }
  if (PyTuple_Check(h.ptr()) || (list_pairs && PyList_Check(h.ptr()))) {
    auto s = py::reinterpret_borrow<py::sequence>(h);
    if (s.size() != 2)
      throw py::value_error("input " + std::to_string(index + 1) + ": a pair has 2 texts, got " +
                            std::to_string(s.size()));
    TextInput in{utf8(s[0], "input", index), std::nullopt};
    if (!s[1].is_none()) in.pair = utf8(s[1], "input", index);
    return in;
  }
  throw py::type_error(
      "input " + std::to_string(index + 1) +
      ": expected str, a (text, text_pair) tuple or a {\"text\", \"text_pair\"} dict, got " +
      type_name(h));
}

// A str, a (text, pair) tuple or a dict is one input; a list (or another iterable) holds
// several, each of those forms, or a [text, pair] list.
Inputs to_inputs(py::handle texts) {
  Inputs in;
  PyObject* p = texts.ptr();
  if (PyUnicode_Check(p) || PyDict_Check(p) || PyTuple_Check(p)) {
    in.single = true;
    in.rows.push_back(to_input(texts, 0, false));
    return in;
  }
  if (PyBytes_Check(p) || PyByteArray_Check(p))
    throw py::type_error("texts must be str (decode bytes first), got " + type_name(texts));
  if (!py::isinstance<py::iterable>(texts))
    throw py::type_error(
        "texts must be a str, a (text, text_pair) tuple, a dict or a list of those, got " +
        type_name(texts));
  std::size_t i = 0;
  for (auto item : texts) in.rows.push_back(to_input(item, i++, true));
  return in;
}

BatchOptions batching(std::size_t batch_size, std::optional<std::size_t> max_length,
                      bool truncation, std::size_t max_batch_tokens) {
  if (batch_size < 1) throw py::value_error("batch_size must be at least 1");
  if (max_batch_tokens < 1) throw py::value_error("max_batch_tokens must be at least 1");
  if (max_length && *max_length < 1) throw py::value_error("max_length must be at least 1");
  BatchOptions b;
  b.batch_size = batch_size;
  b.max_batch_tokens = max_batch_tokens;
  b.max_length = max_length.value_or(0);
  b.truncate = truncation;
  return b;
}

// A NumPy array that owns `v` (moved, not copied): the array's base is a capsule deleting it.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule base(owned, [](void* q) { delete static_cast<std::vector<T>*>(q); });
  return py::array_t<T>(std::move(shape), owned->data(), base);
}

ScoreFunction parse_function(const std::optional<std::string>& f) {
  if (!f) return ScoreFunction::Default;
  if (*f == "softmax") return ScoreFunction::Softmax;
  if (*f == "sigmoid") return ScoreFunction::Sigmoid;
  if (*f == "none") return ScoreFunction::None;
  throw py::value_error(
      "function_to_apply must be \"softmax\", \"sigmoid\", \"none\" or None, got \"" + *f + "\"");
}

py::list label_dicts(const Classification& c) {
  py::list out;
  for (const auto& l : c.labels) {
    py::dict d;
    d["label"] = l.label;
    d["score"] = l.score;
    out.append(std::move(d));
  }
  return out;
}

EmbeddingPooling parse_pooling(const std::optional<std::string>& p, const Model& m) {
  if (!p)
    return m.default_pooling() == Pooling::Cls ? EmbeddingPooling::Cls : EmbeddingPooling::Mean;
  if (*p == "cls") return EmbeddingPooling::Cls;
  if (*p == "mean") return EmbeddingPooling::Mean;
  if (*p == "pooler") return EmbeddingPooling::Pooler;
  throw py::value_error("pooling must be \"cls\", \"mean\", \"pooler\" or None, got \"" + *p +
                        "\"");
}

class PyModel {
 public:
  PyModel(const std::filesystem::path& path, std::optional<std::string> precision,
          std::optional<int> threads, py::object calibration, std::string calibration_source,
          std::string calibration_method, double percentile, std::optional<std::string> fallback,
          double fallback_min_cosine, bool smooth_outliers) {
    ModelOptions o;
    if (threads && *threads < 0)
      throw py::value_error("threads must be 0 (all available CPUs) or more");
    o.threads = threads.value_or(0);
    if (precision) o.precision = parse_precision(*precision);
    if (!calibration.is_none()) {
      o.calibration.texts = to_inputs(calibration).rows;
      o.calibration.source = calibration_source.empty() ? "python" : calibration_source;
    }
    o.calibration.method = std::move(calibration_method);
    o.calibration.percentile = percentile;
    if (fallback && *fallback != "none" && *fallback != "auto")
      throw py::value_error("fallback must be \"none\", \"auto\" or None, got \"" + *fallback +
                            "\"");
    o.fallback_auto = fallback && *fallback == "auto";
    o.fallback_min_cosine = fallback_min_cosine;
    o.smooth_outliers = smooth_outliers;
    py::gil_scoped_release nogil;
    model_ = Model::load(path, o);
    options_ = std::move(o);
  }

  // `encore build`: writes this model, in its precision, as a plan folder.
  std::uintmax_t save(const std::filesystem::path& out_dir) const {
    py::gil_scoped_release nogil;
    return quant::write_model_plan(*model_, options_, out_dir).weights_bytes;
  }

  const Model& model() const { return *model_; }

  py::object classify(py::object texts, std::optional<std::size_t> top_k,
                      const std::optional<std::string>& function_to_apply, std::size_t batch_size,
                      std::optional<std::size_t> max_length, bool truncation,
                      std::size_t max_batch_tokens) const {
    if (top_k && *top_k < 1)
      throw py::value_error("top_k must be at least 1, or None for every label");
    const ScoreFunction f = parse_function(function_to_apply);
    Inputs in = to_inputs(texts);
    const BatchOptions b = batching(batch_size, max_length, truncation, max_batch_tokens);
    std::vector<Classification> results;
    {
      py::gil_scoped_release nogil;
      results = model_->classify(in.rows, top_k.value_or(0), b, f);
    }
    if (in.single) return label_dicts(results.front());
    py::list out;
    for (const auto& r : results) out.append(label_dicts(r));
    return out;
  }

  py::array_t<float> logits(py::object texts, std::size_t batch_size,
                            std::optional<std::size_t> max_length, bool truncation,
                            std::size_t max_batch_tokens) const {
    if (!model_->has_classifier())
      throw Error(
          "this model has no classification head (classifier.weight); use embed or forward");
    Inputs in = to_inputs(texts);
    const BatchOptions b = batching(batch_size, max_length, truncation, max_batch_tokens);
    const auto C = static_cast<std::size_t>(model_->num_labels());
    std::vector<float> flat(in.rows.size() * C);
    {
      py::gil_scoped_release nogil;
      const auto results = model_->classify(in.rows, 1, b);
      for (std::size_t i = 0; i < results.size(); ++i)
        std::copy(results[i].logits.begin(), results[i].logits.end(),
                  flat.begin() + static_cast<std::ptrdiff_t>(i * C));
    }
    if (in.single) return to_numpy(std::move(flat), {static_cast<py::ssize_t>(C)});
    return to_numpy(std::move(flat),
                    {static_cast<py::ssize_t>(in.rows.size()), static_cast<py::ssize_t>(C)});
  }

  py::array_t<float> embed(py::object texts, const std::optional<std::string>& pooling,
                           std::optional<bool> normalize, std::size_t batch_size,
                           std::optional<std::size_t> max_length, bool truncation,
                           std::size_t max_batch_tokens) const {
    const EmbeddingPooling p = parse_pooling(pooling, *model_);
    // As `encore embed`: the folder's Normalize applies when neither pooling nor normalize is
    // given.
    const bool norm = normalize.value_or(!pooling && model_->default_normalize());
    Inputs in = to_inputs(texts);
    const BatchOptions b = batching(batch_size, max_length, truncation, max_batch_tokens);
    const auto H = static_cast<std::size_t>(model_->hidden_size());
    std::vector<float> flat(in.rows.size() * H);
    {
      py::gil_scoped_release nogil;
      const auto vectors = model_->embed(in.rows, p, norm, b);
      for (std::size_t i = 0; i < vectors.size(); ++i)
        std::copy(vectors[i].begin(), vectors[i].end(),
                  flat.begin() + static_cast<std::ptrdiff_t>(i * H));
    }
    if (in.single) return to_numpy(std::move(flat), {static_cast<py::ssize_t>(H)});
    return to_numpy(std::move(flat),
                    {static_cast<py::ssize_t>(in.rows.size()), static_cast<py::ssize_t>(H)});
  }

  py::object forward(py::object texts, std::size_t batch_size,
                     std::optional<std::size_t> max_length, bool truncation,
                     std::size_t max_batch_tokens) const {
    Inputs in = to_inputs(texts);
    const BatchOptions b = batching(batch_size, max_length, truncation, max_batch_tokens);
    std::vector<RowOutput> rows;
    {
      py::gil_scoped_release nogil;
      rows = model_->forward(in.rows, b);
    }
    const auto H = static_cast<py::ssize_t>(model_->hidden_size());
    py::list out;
    for (auto& r : rows) {
      py::dict d;
      const auto T = static_cast<py::ssize_t>(r.input_ids.size());
      d["input_ids"] = to_numpy(std::move(r.input_ids), {T});
      d["token_type_ids"] = to_numpy(std::move(r.token_type_ids), {T});
      d["last_hidden_state"] = to_numpy(std::move(r.last_hidden_state), {T, H});
      d["cls"] = to_numpy(std::move(r.cls), {H});
      d["mean_pooled"] = to_numpy(std::move(r.mean_pooled), {H});
      if (!r.pooler_output.empty()) d["pooler_output"] = to_numpy(std::move(r.pooler_output), {H});
      if (!r.logits.empty()) {
        const auto C = static_cast<py::ssize_t>(r.logits.size());
        d["logits"] = to_numpy(std::move(r.logits), {C});
      }
      if (!r.sentence_embedding.empty())
        d["sentence_embedding"] = to_numpy(std::move(r.sentence_embedding), {H});
      d["truncated"] = r.truncated;
      out.append(std::move(d));
    }
    if (in.single) return out[0];
    return out;
  }

  Encoding tokenize(py::object text, py::object pair, bool add_special_tokens, bool truncation,
                    std::optional<std::size_t> max_length) const {
    const std::string a = utf8(text, "text", 0);
    std::optional<std::string> b;
    if (!pair.is_none()) b = utf8(pair, "pair", 0);
    EncodeOptions o;
    o.add_special_tokens = add_special_tokens;
    if (max_length && *max_length < 1) throw py::value_error("max_length must be at least 1");
    if (truncation) o.truncation = Truncation{max_length.value_or(model_->max_length())};
    py::gil_scoped_release nogil;
    return b ? model_->tokenizer().encode_pair(a, *b, o) : model_->tokenizer().encode(a, o);
  }

  std::string decode(const std::vector<std::int32_t>& ids, bool skip_special_tokens) const {
    return model_->tokenizer().decode(ids, skip_special_tokens);
  }

  // Seconds per Model::classify call on one text, timed in C++ with the GIL released: the
  // baseline the Python call's overhead is measured against (bench/python_overhead.py).
  double time_classify(const std::string& text, std::size_t reps) const {
    const std::vector<TextInput> in{{text, std::nullopt}};
    py::gil_scoped_release nogil;
    model_->classify(in, 1);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < reps; ++i) model_->classify(in, 1);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
           static_cast<double>(std::max<std::size_t>(reps, 1));
  }

 private:
  std::shared_ptr<const Model> model_;
  ModelOptions options_;  // as loaded: a saved plan records its calibration
};

py::object sequence_ids(const Encoding& e) {
  py::list out;
  for (auto s : e.sequence_ids) out.append(s < 0 ? py::none() : py::object(py::int_(s)));
  return out;
}

}  // namespace
}  // namespace encore::python

PYBIND11_MODULE(_encore, m) {
  using namespace encore;
  using encore::python::PyModel;
  m.doc() = "encore's native engine (use the `encore` package, not this module directly)";
  m.attr("__version__") = ENCORE_VERSION;

  static py::exception<Error> error(m, "Error", PyExc_ValueError);
  static py::exception<InputError> input_error(m, "InputError", error.ptr());
  // Most derived first: InputError is an Error.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      PyErr_SetString(input_error.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });
  error.doc() =
      "An error from encore (bad model folder, unsupported input, ...), with its message.";
  input_error.doc() =
      "An error in a user-supplied input (invalid text, too long without truncation, ...).";

  py::class_<Encoding>(m, "Encoding", "One tokenized input, in Hugging Face tokenizers' layout.")
      .def_property_readonly("ids", [](const Encoding& e) { return e.ids; })
      .def_property_readonly("type_ids", [](const Encoding& e) { return e.type_ids; })
      .def_property_readonly("tokens", [](const Encoding& e) { return e.tokens; })
      .def_property_readonly(
          "offsets", [](const Encoding& e) { return e.offsets; },
          "(start, end) in characters of the text (of the pair's text for its tokens); "
          "(0, 0) for special tokens")
      .def_property_readonly("special_tokens_mask",
                             [](const Encoding& e) {
                               return std::vector<int>(e.special_tokens_mask.begin(),
                                                       e.special_tokens_mask.end());
                             })
      .def_property_readonly("attention_mask",
                             [](const Encoding& e) { return std::vector<int>(e.size(), 1); })
      .def_property_readonly(
          "sequence_ids", &encore::python::sequence_ids,
          "0 or 1 for the input a token came from, None for template special tokens")
      .def_property_readonly("truncated", [](const Encoding& e) { return e.truncated; })
      .def("__len__", &Encoding::size)
      .def("__repr__", [](const Encoding& e) {
        return "Encoding(num_tokens=" + std::to_string(e.size()) +
               ", tokens=" + std::string(py::repr(py::cast(e.tokens))) + ")";
      });

  const auto bs = py::arg("batch_size") = 32;
  const auto ml = py::arg("max_length") = py::none();
  const auto tr = py::arg("truncation") = true;
  const auto mbt = py::arg("max_batch_tokens") = 8192;

  py::class_<PyModel>(m, "Model")
      .def(py::init<const std::filesystem::path&, std::optional<std::string>, std::optional<int>,
                    py::object, std::string, std::string, double, std::optional<std::string>,
                    double, bool>(),
           py::arg("path"), py::arg("precision") = py::none(), py::arg("threads") = py::none(),
           py::arg("calibration") = py::none(), py::arg("calibration_source") = "",
           py::arg("calibration_method") = "percentile", py::arg("percentile") = 99.99,
           py::arg("fallback") = py::none(), py::arg("fallback_min_cosine") = 0.995,
           py::arg("smooth_outliers") = true)
      .def_property_readonly("labels", [](const PyModel& p) { return p.model().labels(); })
      .def_property_readonly("num_labels", [](const PyModel& p) { return p.model().num_labels(); })
      .def_property_readonly("hidden_size",
                             [](const PyModel& p) { return p.model().hidden_size(); })
      .def_property_readonly("num_layers", [](const PyModel& p) { return p.model().num_layers(); })
      .def_property_readonly("precision",
                             [](const PyModel& p) { return to_string(p.model().precision()); })
      .def_property_readonly("layer_precisions",
                             [](const PyModel& p) { return p.model().layer_precisions(); })
      .def_property_readonly("max_length", [](const PyModel& p) { return p.model().max_length(); })
      .def_property_readonly("notices", [](const PyModel& p) { return p.model().notices(); })
      .def_property_readonly("architecture",
                             [](const PyModel& p) { return p.model().model_type(); })
      .def_property_readonly("threads", [](const PyModel& p) { return p.model().threads(); })
      .def_property_readonly("parameter_count",
                             [](const PyModel& p) { return p.model().parameter_count(); })
      .def_property_readonly(
          "problem_type",
          [](const PyModel& p) { return std::string(to_string(p.model().problem_type())); })
      .def_property_readonly("default_pooling",
                             [](const PyModel& p) -> std::optional<std::string> {
                               const Pooling q = p.model().default_pooling();
                               if (q == Pooling::None) return std::nullopt;
                               return std::string(to_string(q));
                             })
      .def_property_readonly("default_normalize",
                             [](const PyModel& p) { return p.model().default_normalize(); })
      .def_property_readonly("has_pooler", [](const PyModel& p) { return p.model().has_pooler(); })
      .def_property_readonly("has_classifier",
                             [](const PyModel& p) { return p.model().has_classifier(); })
      .def_property_readonly("is_plan", [](const PyModel& p) { return p.model().is_plan(); })
      .def(
          "classify", &PyModel::classify,
          R"(Classify texts: for one input a list of {"label", "score"} dicts, best first; for a list, one such list per input. top_k=None returns every label. function_to_apply: None (softmax, or sigmoid for multi-label and one-logit models, raw for regression), "softmax", "sigmoid" or "none".)",
          py::arg("texts"), py::kw_only(), py::arg("top_k") = 1,
          py::arg("function_to_apply") = py::none(), bs, ml, tr, mbt)
      .def("logits", &PyModel::logits,
           R"(Raw classifier logits: float32 (N, num_labels), or (num_labels,) for one input.)",
           py::arg("texts"), py::kw_only(), bs, ml, tr, mbt)
      .def(
          "embed", &PyModel::embed,
          R"(Sentence embeddings: float32 (N, hidden_size), or (hidden_size,) for one input. pooling: "cls", "mean", "pooler" or None (the folder's 1_Pooling mode, else mean); normalize: L2-normalize (None: as modules.json says when pooling is None).)",
          py::arg("texts"), py::kw_only(), py::arg("pooling") = py::none(),
          py::arg("normalize") = py::none(), bs, ml, tr, mbt)
      .def(
          "forward", &PyModel::forward,
          R"(Raw forward pass: per input a dict of NumPy arrays (input_ids, token_type_ids, last_hidden_state (tokens, hidden), cls, mean_pooled, and pooler_output, logits, sentence_embedding when the model has them) plus "truncated".)",
          py::arg("texts"), py::kw_only(), bs, ml, tr, mbt)
      .def(
          "tokenize", &PyModel::tokenize,
          R"(Tokenize one text (or pair) exactly as Hugging Face tokenizers does; no truncation unless truncation=True (to max_length, else the model's).)",
          py::arg("text"), py::arg("pair") = py::none(), py::kw_only(),
          py::arg("add_special_tokens") = true, py::arg("truncation") = false, ml)
      .def("decode", &PyModel::decode, R"(Token ids back to text.)", py::arg("ids"), py::kw_only(),
           py::arg("skip_special_tokens") = true)
      .def(
          "save", &PyModel::save,
          R"(Write this model, in its precision, as an `encore build` plan folder (created; an existing plan there is replaced). Returns the bytes of its weights file. Loading the plan computes identical outputs.)",
          py::arg("path"))
      .def("_time_classify", &PyModel::time_classify, py::arg("text"), py::arg("reps"));
}
