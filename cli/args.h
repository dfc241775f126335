// Command-line options of the `gradgrad` subcommands: `--key value` pairs and bare `--flag`s. Every option a
// command does not read is refused by finish(), so a typo never passes silently.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace gg::cli {

class Args {
 public:
  // argv after the subcommand name. `flags` lists the options that take no value.
  Args(int argc, char** argv, const std::set<std::string>& flags = {});

  std::string get(const std::string& key, const std::string& fallback) const;
  std::string require(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool flag(const std::string& key) const;
  // Every `--set a.b=value` in order (a repeatable option).
  const std::vector<std::string>& sets() const { return sets_; }
  const std::vector<std::string>& positional() const { return positional_; }
  const std::vector<std::string>& tokens() const { return tokens_; }  // as given, for the run's record
  // Throws naming the first option given but never read.
  void finish() const;

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_given_;
  std::vector<std::string> sets_, positional_, tokens_;
  mutable std::set<std::string> read_;
};

}  // namespace gg::cli
