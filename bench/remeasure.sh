#!/bin/bash
# Re-measures the tables of bench/RESULTS.md with the harness's rules (every time a median of at least 3
# warm runs, or marked; the training step checked on its gradients). Run it from the repository root on
# a quiet machine:
#
#   bash bench/remeasure.sh            # about 17 minutes on a 2-core software adapter (25 at most)
#   bash bench/remeasure.sh --smoke    # the same steps on tiny shapes, into a temporary folder (~2 min)
#
# Each step has a time limit, so the whole stays under 25 minutes on the 2-core software adapter; a step
# cut short keeps the rows it measured (the JSON is rewritten after every row) and its table says which
# rows are missing. The JSON lands in bench/results/DATE-remeasure-*.json; DATE-remeasure-tables.md holds
# the tables as RESULTS.md wants them (each between the markers that name the command printing it, which
# test/bench_test.ts checks against its JSON) and the figures of the hand-timed table. Paste them into
# RESULTS.md under a new dated heading; keep the earlier sections as they are.
#
# Environment: REMEASURE_FORCE=1 runs even when the load average says the machine is busy;
# REMEASURE_SCALE=N multiplies every step's time limit by N (a machine slower than the one they were set
# on); REMEASURE_STEPS="conv unet ..." runs only those of the steps quick, conv, unet, default, grad and
# hand, keeping the JSON the others left today (the tables file is written afresh from the JSON present,
# and has the hand-timed lines only when step hand runs).
set -u
cd "$(dirname "$0")/.."
export DENO_NO_UPDATE_CHECK=1

smoke=0
[ "${1:-}" = "--smoke" ] && smoke=1
date=$(date -u +%F)
if [ $smoke = 1 ]; then
  dir=$(mktemp -d)
  prefix="$dir/$date-remeasure"
else
  prefix="bench/results/$date-remeasure"
fi
tables="$prefix-tables.md"
scale=${REMEASURE_SCALE:-1}
if ! [[ "$scale" =~ ^[0-9]+([.][0-9]+)?$ ]] || awk "BEGIN { exit !($scale < 0.1) }"; then
  echo "REMEASURE_SCALE must be a number of at least 0.1, got \"$scale\"" >&2
  exit 2
fi
wanted=" ${REMEASURE_STEPS:-quick conv unet default grad hand} "
for s in $wanted; do
  case $s in
    quick | conv | unet | default | grad | hand) ;;
    *)
      echo "REMEASURE_STEPS: unknown step \"$s\" (the steps: quick conv unet default grad hand, separated by spaces)" >&2
      exit 2
      ;;
  esac
done
want() { [[ "$wanted" == *" $1 "* ]]; }
# a step's time limit times the scale, at least 1 s (timeout 0 would mean no limit)
scaled() { awk "BEGIN { t = int($1 * $scale); print (t < 1 ? 1 : t) }"; }

load=$(cut -d' ' -f1 /proc/loadavg)
echo "load average (1 min): $load"
if [ $smoke = 0 ] && [ "${REMEASURE_FORCE:-0}" != 1 ] && awk "BEGIN { exit !($load > 0.5) }"; then
  echo "the machine is busy (load average $load > 0.5): the figures would be noisy; wait, or set REMEASURE_FORCE=1" >&2
  exit 1
fi

# bench NAME LIMIT_S ARGS...: one `deno task bench` run into $prefix-NAME.json, its log into ...-NAME.log
bench() {
  local name=$1 limit
  limit=$(scaled "$2")
  shift 2
  want "$name" || return 0
  local extra=()
  # smoke: the same options on the --quick stand-ins of two shapes (a later --filter replaces the first)
  [ $smoke = 1 ] && extra=(--quick --filter "13x14x15,16x16x20")
  echo "== $name (at most $limit s): deno task bench $* ${extra[*]+${extra[*]}}"
  local t0=$SECONDS
  timeout "$limit" deno task bench "$@" ${extra[@]+"${extra[@]}"} --json "$prefix-$name.json" >"$prefix-$name.log" 2>&1
  echo "   exit $?, $((SECONDS - t0)) s; $(grep -c '' "$prefix-$name.log") lines of log"
}

# table ARGS...: the block RESULTS.md shows for `deno task bench --table ARGS`
table() {
  {
    echo "<!-- deno task bench --table $* -->"
    echo
    deno task bench --table "$@" 2>/dev/null
    echo
    echo "<!-- end of table -->"
    echo
  } >>"$tables"
}

# 1. every backend on the small shapes (about 1.5 min)
bench quick 150 --quick
# 2. our convolutions (f32 and f16) against jax-js on the same adapter, at the layers that fit it (about 5 min)
bench conv 400 --backends ours,ours-f16,jax-js --only conv3d_forward,conv3d_input_grad,conv3d_weight_grad \
  --filter "64->8,128->256,64->64" --warmup 1 --reps 3 --budget 5 --max-run 40
# 3. the fast U-Net's training step (loss and gradients checked) and inference tile against PyTorch (about 1.5 min)
bench unet 150 --only unet_train_step,unet_inference_tile --filter fast --backends ours,ours-f16,pytorch-cpu \
  --warmup 1 --reps 3 --budget 20 --max-run 60
# 4. the other ops at their real sizes, with the TypeScript floor and PyTorch; rows over 12 s a run are
#    skipped (the floor's 64- to 256-channel convolutions) (about 6 min)
bench default 420 --backends ours,typescript,pytorch-cpu \
  --only conv3d_forward,conv3d_input_grad,conv3d_weight_grad,conv_transpose3d_forward,max_pool3d_forward,softmax_ce_forward \
  --warmup 1 --reps 3 --budget 5 --max-run 12
# 5. the same training step's loss and gradients against PyTorch in float64, the reference of this run; one
#    timed run each: this step is about accuracy (about 1 min)
bench grad 120 --only unet_train_step --filter fast --backends pytorch-f64,ours,pytorch-cpu \
  --warmup 1 --reps 1 --max-run 60

echo "Tables of the runs of $date, printed from their JSON with \`deno task bench --table\`." >"$tables"
echo >>"$tables"
for name in quick conv unet default grad; do
  [ -s "$prefix-$name.json" ] && table "$prefix-$name.json"
done
if [ -s "$prefix-grad.json" ]; then
  echo "Training step against float64 (the worst tensor of each backend, from $prefix-grad.json):" >>"$tables"
  echo >>"$tables"
  deno eval "for (const r of JSON.parse(Deno.readTextFileSync('$prefix-grad.json')).results) {
    if (r.relError !== undefined) console.log(\`- \${r.backend}: \${r.relError.toExponential(1)} in \${r.worst} against \${r.checkedAgainst}\`);
  }" >>"$tables" 2>&1
  echo >>"$tables"
fi

# 6. the hand-timed figures: a step and a tile of the fast preset's cascade network (base 8, 40^3 patch), the
#    median of 5 warm steps each, and `segment` of the sample CT, the median of 3 runs (about 2 min)
if ! want hand; then
  deno fmt -q "$tables" 2>/dev/null
  echo "load average (1 min) at the end: $(cut -d' ' -f1 /proc/loadavg)"
  echo "wrote $tables and $prefix-*.json (no hand-timed figures: step hand did not run)"
  exit 0
fi
size=40 steps=5
[ $smoke = 1 ] && size=16 steps=3
{
  echo "Hand-timed ($(git rev-parse --short HEAD)$([ -n "$(git status --porcelain --untracked-files=no)" ] && echo -dirty)):"
  echo
} >>"$tables"
for mode in train infer; do
  echo "== profile $mode (at most $(scaled 60) s)"
  timeout "$(scaled 60)" deno run -A bench/profile.ts --base 8 --size $size --mode $mode --steps $steps >"$prefix-profile-$mode.txt" 2>&1
  echo "   exit $?"
  echo "- bench/profile.ts --base 8 --size $size --mode $mode --steps $steps: $(grep -m1 ' step on ' "$prefix-profile-$mode.txt")" >>"$tables"
done
if [ $smoke = 1 ]; then
  echo "== segment: left out of --smoke"
else
  secs=()
  for i in 1 2 3; do
    echo "== segment run $i (at most $(scaled 50) s)"
    timeout "$(scaled 50)" deno task segment data/abdomen-ct-a.nii.gz -o "$prefix-seg.nii.gz" --json "$prefix-seg-$i.json" \
      --progress off >/dev/null 2>&1
    secs+=("$(deno eval "console.log(JSON.parse(Deno.readTextFileSync('$prefix-seg-$i.json')).seconds.total)" 2>/dev/null || echo failed)")
    rm -f "$prefix-seg.nii.gz" "$prefix-seg-$i.json"
  done
  sorted=$(printf '%s\n' "${secs[@]}" | sort -g | tr '\n' ' ')
  echo "- deno task segment data/abdomen-ct-a.nii.gz (demo model), 3 runs: ${secs[*]} s; median $(echo "$sorted" | cut -d' ' -f2) s" >>"$tables"
fi
deno fmt -q "$tables" 2>/dev/null # a record that can be committed as it is
echo "load average (1 min) at the end: $(cut -d' ' -f1 /proc/loadavg)"
echo "wrote $tables and $prefix-*.json"
