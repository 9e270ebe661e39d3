#!/bin/bash
# Everything to measure on a machine with a GPU, in one run of at most 8 minutes (see bench/RESULTS.md).
# From the repository root, with Deno (and, for the PyTorch rows, a python3 that imports torch with CUDA):
#   OUT=/some/folder bash bench/gpu-session.sh
# Each step has its own time limit, so a slow one cannot eat the others' minutes; every result lands in
# $OUT (tests.txt, bench.json/.txt, profile-*.txt, segment-*.json).
set -u
OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
step() { # step SECONDS NAME COMMAND...: runs COMMAND with a limit, its output into $OUT/NAME
  local limit=$1 name=$2
  shift 2
  echo "== $name (at most ${limit} s)"
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name" 2>&1
  echo "   exit $?, $((SECONDS - t0)) s; last lines:"
  tail -n 4 "$OUT/$name" | sed 's/^/   /'
}

# correctness first: the kernels on this adapter against float64, f16 included
step 100 tests.txt deno test --allow-read --allow-write --allow-env --allow-run --allow-ffi \
  test/conv3d_fast_test.ts test/conv3d_test.ts test/norm_test.ts test/reduce_test.ts test/network_test.ts
# our kernels, the f16 path, jax-js and PyTorch (float32 with TF32 off, and TF32) on the same card
step 240 bench.txt deno task bench --backends ours,ours-f16,jax-js,pytorch-fp32,pytorch-tf32 \
  --reps 5 --budget 3 --max-run 20 --json "$OUT/bench.json"
# where a paper training step and a fast-preset step spend their time
step 40 profile-paper-train.txt deno run -A bench/profile.ts --preset paper --size 116x132x132 --steps 2
step 25 profile-fast-train.txt deno run -A bench/profile.ts --base 8 --size 40 --steps 5
# the README's command on the sample CT, both precisions
for p in f32 f16; do
  step 35 "segment-$p.txt" deno task segment data/abdomen-ct-a.nii.gz -o "/tmp/seg-$p.nii.gz" \
    --precision "$p" --reference data/abdomen-ct-a.labels.nii.gz --json "$OUT/segment-$p.json" --progress off
done
