#!/bin/sh
# Builds native/test/polyphase_test.cc with AddressSanitizer and UndefinedBehaviorSanitizer and runs it twice: as
# shipped (target_clones; the ifunc picks the AVX2+FMA clone on CPUs that have it) and with multiversioning off
# (-DDSP_NO_MULTIVERSION), which exercises the x86-64 baseline (SSE2) code path on any machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for variant in multiversion baseline; do
  extra=""
  [ "$variant" = baseline ] && extra="-DDSP_NO_MULTIVERSION"
  # shellcheck disable=SC2086
  ${CXX:-g++} -std=c++17 -O1 -g -fopenmp-simd -fno-omit-frame-pointer -fsanitize=address,undefined \
    -fno-sanitize-recover=all -Wall -Wextra -Wno-psabi $extra \
    "$here/polyphase_test.cc" "$here/../src/polyphase.cc" -o "$out/polyphase_test-$variant"
  printf '%s: ' "$variant"
  "$out/polyphase_test-$variant"
done
