#include "models/checkpoint.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "datasets/files.h"
#include "engine/backend/backend.h"

namespace gg {

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  // The data buffer first, so that the header can carry each tensor's checksum.
  uint64_t total = 0;
  for (const auto& [name, t] : tensors) {
    GG_CHECK(!name.empty() && name != "__metadata__", safetensors_where(path) + "invalid tensor name '" + name + "'");
    GG_CHECK(t.defined(), safetensors_where(path) + "tensor '" + name + "' is undefined");
    total += uint64_t(t.numel()) * dtype_size(t.dtype());
  }
  std::string buffer(total, '\0');
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  nlohmann::json checksums = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    GG_CHECK(!header.contains(name), safetensors_where(path) + "tensor name '" + name + "' given twice");
    const uint64_t bytes = uint64_t(t.numel()) * dtype_size(t.dtype());
    if (bytes) backend_for(t.device()).copy_to_host(buffer.data() + offset, t.raw(), bytes);
    header[name] = {
        {"dtype", safetensors_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    checksums[name] = crc_text(crc32_of(std::string_view(buffer).substr(offset, bytes)));
    offset += bytes;
  }
  Metadata meta = metadata;
  meta[kChecksumKey] = checksums.dump();
  nlohmann::ordered_json with_metadata = {{"__metadata__", meta}};
  with_metadata.update(header);
  std::string text = with_metadata.dump();
  text.append((8 - text.size() % 8) % 8,
              ' ');  // keeps the buffer 8-byte aligned, as the reference writer does

  std::string file(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(file.data(), &n, 8);
  file += text;
  file += buffer;
  write_file_atomic(path, file);
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string file = read_file(path);
  const SafetensorsLayout layout = parse_safetensors(file, path);
  SafetensorsFile out;
  out.metadata = layout.metadata;
  const char* buffer = file.data() + layout.buffer_offset;
  for (const SafetensorsEntry& e : layout.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu());  // from the file; copy_ moves it where it goes
    if (e.end > e.begin) backend_for(t.device()).copy_from_host(t.raw(), buffer + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

void save_checkpoint(const std::string& path, const Module& model, const nlohmann::json& config,
                     const NamedTensors& extra, const Metadata& metadata) {
  Metadata meta = metadata;
  for (const char* key : {kConfigKey, kExtraKey})
    GG_CHECK(!meta.count(key), "save_checkpoint '" + path + "': metadata key '" + key + "' is reserved");
  meta[kConfigKey] = config.dump();
  nlohmann::json extra_names = nlohmann::json::array();
  for (const auto& [name, t] : extra) extra_names.push_back(name);
  meta[kExtraKey] = extra_names.dump();

  NamedTensors all = model.named_parameters();
  for (const auto& [name, t] : extra) {
    for (const auto& [pname, p] : all)
      GG_CHECK(pname != name,
               "save_checkpoint '" + path + "': extra tensor '" + name + "' has a parameter's name");
  }
  all.insert(all.end(), extra.begin(), extra.end());
  save_safetensors(path, all, meta);
}

namespace {

bool all_finite(const Tensor& cpu_tensor) {
  const int64_t n = cpu_tensor.numel();
  if (cpu_tensor.dtype() == DType::f32) {
    const float* v = static_cast<const float*>(cpu_tensor.raw());
    return std::all_of(v, v + n, [](float x) { return std::isfinite(x); });
  }
  const double* v = static_cast<const double*>(cpu_tensor.raw());
  return std::all_of(v, v + n, [](double x) { return std::isfinite(x); });
}

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  Checkpoint c;
  c.metadata = std::move(f.metadata);
  auto parse = [&](const char* key) {
    return parse_json(c.metadata.at(key), "checkpoint '" + path + "': metadata '" + key + "'");
  };
  if (c.metadata.count(kConfigKey)) c.config = parse(kConfigKey);
  std::set<std::string> extra;
  if (c.metadata.count(kExtraKey)) {
    const nlohmann::json names = parse(kExtraKey);
    GG_CHECK(names.is_array(),
             "checkpoint '" + path + "': metadata '" + kExtraKey + "' must be a list of names");
    for (const auto& n : names) {
      GG_CHECK(n.is_string(),
               "checkpoint '" + path + "': metadata '" + kExtraKey + "' must be a list of names");
      extra.insert(n.get<std::string>());
    }
  }
  for (auto& [name, t] : f.tensors) (extra.erase(name) ? c.extra : c.parameters).emplace_back(name, t);
  for (const auto& [name, t] : c.parameters)
    GG_CHECK(all_finite(t), "checkpoint '" + path + "': parameter '" + name + "' holds NaN or infinite values");
  GG_CHECK(extra.empty(),
           "checkpoint '" + path + "': extra tensor '" + *extra.begin() + "' is not in the file");
  return c;
}

Checkpoint load_checkpoint_into(Module& model, const std::string& path) {
  Checkpoint c = read_checkpoint(path);
  std::map<std::string, Tensor> remaining(c.parameters.begin(), c.parameters.end());
  std::vector<std::string> missing, mismatched;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (parameter, value)
  for (const auto& [name, p] : model.named_parameters()) {
    auto it = remaining.find(name);
    if (it == remaining.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.shape() != p.shape() || it->second.dtype() != p.dtype())
      mismatched.push_back(name + " (file " + it->second.str() + ", model " + p.str() + ")");
    else
      copies.emplace_back(p, it->second);
    remaining.erase(it);
  }
  if (!missing.empty() || !remaining.empty() || !mismatched.empty()) {
    auto list = [](const std::string& label, const std::vector<std::string>& names) {
      std::string s;
      for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
      return names.empty() ? std::string() : "; " + label + ": " + s;
    };
    std::vector<std::string> unexpected;
    for (const auto& [name, t] : remaining) unexpected.push_back(name);
    fail("checkpoint '" + path + "' does not fit the model" + list("missing", missing) +
         list("unexpected", unexpected) + list("mismatched", mismatched));
  }
  NoGradGuard no_grad;
  for (auto& [param, value] : copies) param.copy_(value);
  return c;
}

}  // namespace gg
