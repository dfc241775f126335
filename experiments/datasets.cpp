#include "experiments/datasets.h"

#include <cstdio>
#include <filesystem>

#include "datasets/batching.h"
#include "datasets/images.h"
#include "experiments/output.h"

namespace gg {

nlohmann::json datasets_experiment(const DatasetsOptions& o, const std::string& out) {
  std::filesystem::create_directories(out);
  write_run_info(out, "datasets", o.command);
  nlohmann::json summary = nlohmann::json::object();
  for (const auto& name : toy_registry().names()) {
    const Dataset d = make_toy_set(name, o.toy);
    write_points_csv(out + "/" + name + ".csv", d);
    summary[name] = {{"samples", d.size()}, {"dim", d.x.size(1)}, {"classes", d.num_classes}};
  }
  // Sample grids of the real image sets, where they are installed: 10 per class, one class per row.
  for (const std::string name : {"mnist", "fashion-mnist"}) {
    try {
      const Dataset d = load_dataset(name, {.split = "train"});
      std::vector<int64_t> picked;
      for (int c = 0; c < d.num_classes; ++c)
        for (int64_t i = 0, got = 0; i < d.size() && got < 10; ++i)
          if (d.labels[i] == c) picked.push_back(i), ++got;
      write_image_grid(out + "/" + name + "_samples.png", subset(d, picked).x, 10, 2, 2);
      summary[name] = {{"samples", d.size()}, {"shape", d.x.shape()}, {"classes", d.num_classes}};
    } catch (const Error& e) {
      std::fprintf(stderr, "datasets: skipping %s: %s\n", name.c_str(), e.what());
    }
  }
  write_json(out + "/metrics.json", summary);
  return summary;
}

}  // namespace gg
