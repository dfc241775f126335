// A name-to-factory table: how a config's name ("denoising", "poisson", "noise", "kde") becomes the object
// or function it names. Each family has one registry, filled in one place (the function that returns it),
// so adding a kind is one entry there; `gradgrad help` lists every registry's entries with their summaries.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/core.h"

namespace gg {

template <class Factory>
class Registry {
 public:
  struct Entry {
    std::string name, summary;
    Factory make;
  };

  // `what` names the family in errors and help: "variant", "regularizer", "corruption", "score".
  explicit Registry(std::string what, std::vector<Entry> entries = {})
      : what_(std::move(what)), entries_(std::move(entries)) {}

  const std::string& what() const { return what_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Entry& e : entries_) out.push_back(e.name);
    return out;
  }
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // The entry named `name`; otherwise an Error "<path>: unknown <what> 'x' (known: a, b)".
  const Entry& at(const std::string& name, const std::string& path) const {
    if (const Entry* e = find(name)) return *e;
    fail(path + ": unknown " + what_ + " '" + name + "' (known: " + joined_names(names()) + ")");
  }

 private:
  const Entry* find(const std::string& name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }

  std::string what_;
  std::vector<Entry> entries_;
};

}  // namespace gg
