#!/usr/bin/env bash
# The package from the outside: `cmake --install` into a temporary prefix, then examples/ (the README's "Use
# it" program) configured against it with find_package(gradgrad) alone, built and run; and the installed
# gradgrad command, moved away from this build tree, finds its plots and configs under the prefix.
#   tests/install_consumer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source_dir=$2
prefix=$(mktemp -d /tmp/gg-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix/usr" >/dev/null
for file in bin/gradgrad include/gradgrad/engine/gradgrad.h lib/cmake/gradgrad/gradgradConfig.cmake \
  share/gradgrad/plots/__main__.py share/gradgrad/configs/two_moons/main.json; do
  [[ -e $prefix/usr/$file ]] || { echo "FAIL: the install has no $file"; exit 1; }
done

# Only the prefix is named; Eigen, OpenMP, OpenBLAS, zlib and nlohmann_json come through the package.
# Makefiles whatever CMAKE_GENERATOR says: the flags check below reads make's flags.make.
cmake -G "Unix Makefiles" -S "$source_dir/examples" -B "$prefix/consumer" -DCMAKE_PREFIX_PATH="$prefix/usr" >/dev/null
cmake --build "$prefix/consumer" -j 2 >/dev/null
if grep -q -- "-march=native" "$prefix/consumer/CMakeFiles/demo.dir/flags.make"; then
  echo "FAIL: the package hands -march=native to its consumers"; exit 1
fi
"$prefix/consumer/demo" --epochs 100

# The installed command, run from elsewhere, with no GRADGRAD_HOME: the plots come from the prefix.
cd "$prefix"
env -u GRADGRAD_HOME "$prefix/usr/bin/gradgrad" train --config "$prefix/usr/share/gradgrad/configs/two_moons/main.json" \
  --out "$prefix/run" --set training.epochs=1 --set data.n=128 --set data.test_n=64 >/dev/null
[[ -f $prefix/run/report.html && -f $prefix/run/loss_curves.png ]] || { echo "FAIL: the installed command drew no figures"; exit 1; }
# A build with the CUDA backend installs its plugin, and the installed command finds it there: it answers for
# itself (a GPU, or the runtime's reason for none) rather than not being found.
if [[ -e $build/libgg_cuda.so ]]; then
  [[ -e $prefix/usr/libexec/gradgrad/libgg_cuda.so ]] || { echo "FAIL: the install has no CUDA plugin"; exit 1; }
  answer=$("$prefix/usr/bin/gradgrad" bench jacobian --device cuda --quick --cases toy --no-peer --repeats 1 \
    --out "$prefix/bench" 2>&1 || true)
  if grep -q "plugin was not loaded" <<<"$answer"; then echo "FAIL: $answer"; exit 1; fi
fi
echo "installed into $prefix/usr; examples/ built against it with find_package alone and ran; the installed gradgrad drew its figures"
