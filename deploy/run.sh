#!/bin/sh
# Runs one of the project's commands from any folder, so that relative paths stay relative to the
# caller's folder (deno task would run in the repository): run.sh segment|prepare|train|summarize|info ARGS.
# The permissions are those of the tasks in deno.json (test/deploy_test.ts keeps them equal).
set -eu
home=${SEGMENT_HOME:-$(cd "$(dirname "$0")/.." && pwd)}
command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
segment) permissions="--allow-read --allow-write --allow-env --allow-sys=hostname" ;;
prepare) permissions="--allow-read --allow-write --allow-env" ;;
train) permissions="--allow-read --allow-write --allow-env --allow-ffi" ;;
summarize) permissions="--allow-read --allow-write" ;;
info) permissions="--allow-read --allow-env" ;;
*)
  echo "usage: run.sh segment|prepare|train|summarize|info [ARGS...] (each command has --help)" >&2
  exit 2
  ;;
esac
export DENO_NO_UPDATE_CHECK=1
# shellcheck disable=SC2086 # the permissions are separate words
exec deno run --config "$home/deno.json" $permissions "$home/cli/$command.ts" "$@"
