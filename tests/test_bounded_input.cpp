// What comes in from outside cannot crash or exhaust the process, and what goes out is whole or absent
// (datasets/files.h, the IDX reader, checkpoints, run folders): the audit's deep-nesting files, gzip bomb,
// flipped bytes and NaN weights, two runs into one folder, and a write that fails half-way.
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>

#include "datasets/files.h"
#include "datasets/idx_format.h"
#include "experiments/output.h"
#include "models/checkpoint.h"
#include "models/train_config.h"
#include "tests/cli_helpers.h"
#include "tests/experiments_helpers.h"

using namespace gg;
using namespace gg::test;
namespace fs = std::filesystem;

namespace {

std::string nested_arrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A safetensors file whose header is `header` and whose buffer is empty.
std::string safetensors_with_header(const std::string& header) {
  std::string file(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(file.data(), &n, 8);
  return file + header;
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

TEST_CASE("JSON nested 100,000 deep is refused by name in configs, run files and safetensors headers") {
  TempDir tmp;
  const std::string deep = nested_arrays(100'000);
  CHECK(contains(error_of([&] { parse_json(deep, "test input"); }),
                 "test input: JSON nested deeper than 64 levels"));
  CHECK_NOTHROW(parse_json(nested_arrays(64), "64 deep"));
  CHECK(contains(error_of([&] { parse_json(nested_arrays(65), "65 deep"); }), "nested deeper than 64"));

  write_text(tmp / "config.json", R"({"seed": )" + deep + "}");
  CHECK(contains(error_of([&] { read_json_file(tmp / "config.json"); }), "config.json': JSON nested deeper"));
  write_text(tmp / "deep.safetensors", safetensors_with_header(R"({"t": )" + deep + "}"));
  const std::string header_error = error_of([&] { load_safetensors(tmp / "deep.safetensors"); });
  CHECK(contains(header_error, "deep.safetensors': header: JSON nested deeper than 64 levels"));

  // Through the command line: a named error and exit status 1, where the audit saw a segmentation fault.
  const Outcome train = gradgrad("train --config " + tmp / "config.json" + " --out " + tmp / "run");
  CHECK(train.status == 1);
  CHECK(contains(train.output, "JSON nested deeper than 64 levels"));
  fs::create_directories(tmp / "run");
  write_text(tmp / "run/config.json", read_text(std::string(GG_SOURCE_DIR) + "/configs/two_moons/main.json"));
  write_text(tmp / "run/run.json", R"({"kind": "train"})");
  fs::copy_file(tmp / "deep.safetensors", tmp / "run/checkpoint.safetensors");
  const Outcome field = gradgrad("field --run " + tmp / "run" + " --out " + tmp / "field");
  CHECK(field.status == 1);
  CHECK(contains(field.output, "nested deeper than 64 levels"));
}

TEST_CASE("error messages describe a bad value briefly instead of writing it out whole") {
  CHECK(json_brief(nlohmann::json::array({2, 3})) == "[2,3]");
  CHECK(json_brief(nlohmann::json(std::vector<int>(300, 1))) == "an array of 300 values");
  CHECK(json_brief(nlohmann::json::parse(R"({"a": {"b": 1}})")) == "an object of 1 keys");
  CHECK(json_brief(std::string(500, 'x')).size() < 70);
  CHECK(json_brief(1.5) == "1.5");
  TempDir tmp;
  write_text(tmp / "big.json", "[1e400]");
  CHECK(contains(error_of([&] { read_json_file(tmp / "big.json"); }), "big.json' is not valid JSON"));
  nlohmann::json config = {{"training", {{"epochs", 1}}}};
  CHECK(contains(error_of([&] { apply_overrides(config, {"training.note=\xff\xfe"}); }),
                 "--set training.note: the value is not valid UTF-8"));
}

TEST_CASE("a gzip IDX file that claims 2^31 labels and holds 2 MB is refused without allocating the claim") {
  TempDir tmp;
  const std::string path = tmp / "labels-idx1-ubyte.gz";
  {
    gzFile gz = gzopen(path.c_str(), "wb");
    REQUIRE(gz != nullptr);
    const unsigned char header[8] = {0, 0, 8, 1, 0x80, 0, 0, 0};  // u8, one dimension of 2^31
    gzwrite(gz, header, sizeof header);
    std::mt19937 random(7);
    std::vector<unsigned char> noise(2'300'000);  // incompressible, so the file is big enough for the claim
    for (auto& b : noise) b = static_cast<unsigned char>(random());
    gzwrite(gz, noise.data(), static_cast<unsigned>(noise.size()));
    gzclose(gz);
  }
  REQUIRE(fs::file_size(path) * 1032 > (uint64_t{1} << 31));  // the claim passes the deflate-ratio bound
  const long before = peak_rss_kb();
  const std::string error = error_of([&] { read_idx_file(path); });
  CHECK(contains(error, "truncated"));
  CHECK(contains(error, path));
  const long grown_mb = (peak_rss_kb() - before) / 1024;
  CAPTURE(grown_mb);
  CHECK(grown_mb < 200);  // the claim would be 2048 MB
}

TEST_CASE("checkpoints prove their bytes: a flipped byte or a NaN weight is refused, naming the tensor") {
  TempDir tmp;
  const std::string path = tmp / "w.safetensors";
  save_safetensors(path, {{"encoder.0.weight", Tensor::from_data({1.0, 2.0, 3.0}, {3})},
                          {"decoder.0.bias", Tensor::from_data({4.0}, {1})}});
  CHECK(load_safetensors(path).metadata.count(kChecksumKey) == 0);  // verified, not handed on
  std::string bytes = read_text(path);
  bytes[bytes.size() - 1] ^= 0x01;  // the last byte of decoder.0.bias
  write_text(path, bytes);
  const std::string error = error_of([&] { load_safetensors(path); });
  CHECK(contains(error, "tensor 'decoder.0.bias': its bytes have CRC-32"));
  CHECK(contains(error, "the file is damaged"));

  save_safetensors(path, {{"encoder.0.weight", Tensor::from_data({1.0, std::nan(""), 3.0}, {3})}});
  CHECK(contains(error_of([&] { read_checkpoint(path); }), "parameter 'encoder.0.weight' holds NaN"));
}

TEST_CASE("write_file_atomic: a failed write names the file and leaves the old one whole, stale temporaries go") {
  TempDir tmp;
  const std::string path = tmp / "metrics.json";
  write_file_atomic(path, "old");
  write_file_atomic(path, "new");
  CHECK(read_text(path) == "new");
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator{}) == 1);  // no temporary left

  // A full disk, as the kernel reports it to a process over its file-size limit: the write fails (EFBIG).
  rlimit old_limit{};
  getrlimit(RLIMIT_FSIZE, &old_limit);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::string error = error_of([&] { write_file_atomic(path, std::string(4096, 'x')); });
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  CHECK(contains(error, "cannot write '" + path + "': write failed"));
  CHECK(read_text(path) == "new");
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator{}) == 1);

  CHECK(contains(error_of([&] { write_file_atomic(tmp / "missing/x.json", "x"); }), "missing/x.json"));
  write_text(tmp / ".checkpoint.safetensors.tmp.Ab12Cd", "a killed writer's");
  write_text(tmp / "notes.tmp", "the user's");
  CHECK(remove_stale_temporaries(tmp.path) == 1);
  CHECK(fs::exists(tmp / "notes.tmp"));
  CHECK(fs::exists(path));
}

TEST_CASE("a run folder is held by one run: a second is refused naming the holder, a killed run's temporaries go") {
  TempDir tmp;
  const std::string run = tmp / "run";
  {
    const RunFolderLock held(run);
    const std::string error = error_of([&] { RunFolderLock second(run); });
    CAPTURE(error);
    CHECK(contains(error, "is in use by another gradgrad run (pid " + std::to_string(getpid()) + ")"));
    // The command line: a second train into the held folder exits 1 with that message and writes nothing.
    const Outcome o = gradgrad("train --config " + std::string(GG_SOURCE_DIR) + "/configs/two_moons/main.json" +
                               " --out " + run + " --set training.epochs=1");
    CHECK(o.status == 1);
    CAPTURE(o.output);
    CHECK(contains(o.output, "is in use by another gradgrad run"));
    CHECK_FALSE(fs::exists(run + "/config.json"));
  }
  write_text(run + "/.checkpoint.safetensors.tmp.Xy34Zw", "left by a kill");
  tiny_run(run, 1);  // the lock is free again, and taking it clears the leftovers
  CHECK_FALSE(fs::exists(run + "/.checkpoint.safetensors.tmp.Xy34Zw"));
  CHECK(fs::exists(run + "/checkpoint.safetensors"));
}

TEST_CASE("a checkpoint with damaged training state names the file and the metadata on --resume") {
  TempDir tmp;
  tiny_run(tmp / "run", 1);
  Checkpoint ck = read_checkpoint(tmp / "run/checkpoint.safetensors");
  ck.metadata["gradgrad.train_state"] = "{}";
  NamedTensors all = ck.parameters;
  all.insert(all.end(), ck.extra.begin(), ck.extra.end());
  save_safetensors(tmp / "run/checkpoint.safetensors", all, ck.metadata);
  TrainOptions o = tiny_train_options(2);
  o.resume = true;
  const std::string error = error_of([&] { train_experiment(o, tmp / "run"); });
  CHECK(contains(error, "checkpoint.safetensors: metadata 'gradgrad.train_state' is damaged"));
}
