#!/bin/bash
# Submits a segmentation array of SHARDS tasks and, after it, a job that merges their summaries:
#   deploy/slurm/submit.sh SHARDS OUT_DIR INPUT... [segment options]
# e.g. deploy/slurm/submit.sh 8 /data/out /data/cts --model my-model
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 SHARDS OUT_DIR INPUT... [segment options]" >&2
  exit 2
fi
shards=$1 out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
export SEGMENT_HOME=${SEGMENT_HOME:-$(cd "$here/../.." && pwd)}
job=$(sbatch --parsable --array="0-$((shards - 1))" "$here/segment-array.sbatch" "$@" -o "$out")
echo "segmentation: job array $job ($shards tasks)"
merge=$(sbatch --parsable --dependency="afterany:$job" --job-name=summarize --output="summarize-%j.log" \
  --wrap "$SEGMENT_HOME/deploy/run.sh summarize '$out'")
echo "summary: job $merge, after the array; then $out/summary.csv"
