#!/usr/bin/env bash
# Benchmark (issue 24): regwatch's native engine against the same policies run by an SQL
# engine on this machine, on N generated audit events (default 10,000,000) as Parquet
# with the native columns (benches/gen_audit.py; both of its shapes give the same Parquet):
#
#   native          regwatch audit FILE --no-sigma --format json -o /dev/null
#   duckdb          regwatch audit FILE --engine duckdb --no-sigma --format json -o /dev/null
#   spark           regwatch audit FILE --engine spark --master 'local[2]' --no-sigma --format json -o /dev/null
#   spark-start-up  spark-sql --master 'local[2]' -e 'SELECT 1' (a Spark session doing no
#                   work: how much of the spark time is start-up)
#
# One warm-up round (not timed; it also prints each engine's findings by policy, so the
# engines' results can be compared), then RUNS rounds in which every command runs once,
# in turn, so a change in the shared machine's speed falls on all alike. Prints, per
# command, the medians of wall time, CPU time (user + sys) and peak memory (GNU time's
# maximum resident set size: the largest single process, for Spark the JVM), and its wall
# time over the native engine's, as the median of the round-by-round ratios.
# An engine this build of regwatch does not have (`--engine` is not in `regwatch audit
# --help`) or that is not installed is skipped with a message; nothing is made up.
# Not a test: timings depend on the machine; nothing here asserts a number.
#
#   benches/engines.sh [N] [RUNS] [COMMANDS]   (data in ${BENCH_DIR:-/tmp/regwatch-bench})
#   benches/engines.sh 10000000 5 "native duckdb spark spark-start-up"   (the default)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
n=${1:-10000000}
runs=${2:-5}
wanted=${3:-"native duckdb spark spark-start-up"}
work=${BENCH_DIR:-/tmp/regwatch-bench}
mkdir -p "$work"
jsonl="$work/audit-$n.jsonl"
parquet="$work/audit-$n.parquet"
bin=$PWD/target/release/regwatch

die() { echo "engines.sh: $*" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || die "/usr/bin/time (GNU time) is needed: apt-get install time"

cargo build --release --quiet
[ -x "$bin" ] || die "$bin was not built"

if [ ! -s "$parquet" ]; then
  python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install --quiet duckdb
  if [ -s "$jsonl" ]; then
    echo "converting $jsonl to $parquet" >&2
    python3 benches/gen_audit.py --to-parquet "$jsonl" "$parquet"
  else
    echo "generating $n events into $jsonl and $parquet" >&2
    python3 benches/gen_audit.py "$n" "$jsonl" --parquet "$parquet"
  fi
fi
commit=$(git rev-parse --short HEAD)
echo "input: $parquet, $(wc -c < "$parquet") bytes, $n events; regwatch $commit" >&2
# The commands run in the data folder: Spark leaves derby.log and metastore_db/ where it
# starts, and those do not belong in the repository.
cd "$work"

has_engine() { "$bin" audit --help 2>/dev/null | grep -q -- '--engine'; }
commands=()
for c in $wanted; do
  case $c in
    native) commands+=("$c") ;;
    duckdb|spark)
      if has_engine; then commands+=("$c")
      else echo "skipped $c: this regwatch has no 'audit --engine' (branch engine)" >&2; fi ;;
    spark-start-up)
      if command -v spark-sql >/dev/null; then commands+=("$c")
      else echo "skipped $c: spark-sql is not on PATH" >&2; fi ;;
    *) die "unknown command $c (native, duckdb, spark, spark-start-up)" ;;
  esac
done
[ "${#commands[@]}" -gt 0 ] || die "nothing to time"

# set_line NAME OUT: the command line of NAME, writing its JSON output to OUT, in `line`.
set_line() {
  local common=(--config "$repo/regwatch.toml" audit "$parquet" --no-sigma --format json -o "$2")
  case $1 in
    native) line=("$bin" "${common[@]}") ;;
    duckdb) line=("$bin" "${common[@]}" --engine duckdb) ;;
    # Spark's driver holds the local executors: its default 1 GiB runs out of memory
    # (exit 52) on 10 M events.
    spark) line=(env SPARK_DRIVER_MEMORY="${SPARK_DRIVER_MEMORY:-8g}" "$bin" "${common[@]}" --engine spark --master "local[2]") ;;
    spark-start-up) line=(spark-sql --master "local[2]" -e "SELECT 1") ;;
  esac
}

# once NAME OUT: runs NAME once; prints "wall cpu kb exit". regwatch audit exits 1 with
# findings and 6 when something was refused or rejected: both are results, not failures.
once() {
  local status=0 line
  set_line "$1" "$2"
  /usr/bin/time -f '%e %U %S %M' -o "$work/engines-time.txt" "${line[@]}" \
    > "$work/engines-stdout.txt" 2> "$work/engines-stderr.txt" || status=$?
  if [ "$status" -gt 1 ] && [ "$status" -ne 6 ]; then
    tail -n 20 "$work/engines-stderr.txt" >&2
    die "$1 failed with exit status $status: ${line[*]}"
  fi
  # Spark's own split (session start-up, view, findings query), kept for each run (the
  # commands run without --quiet, which would hide these lines).
  grep -E '^ *(spark|engine [a-z]+):' "$work/engines-stderr.txt" | sed "s/^ */$1: /" \
    >> "$work/engines-timings.txt" || true
  awk -v s="$status" 'END { printf "%s %.2f %s %s\n", $1, $2 + $3, $4, s }' "$work/engines-time.txt"
}

# The warm-up round: each engine's findings by policy, to compare.
for c in "${commands[@]}"; do
  out=$work/engines-$c.json
  [ "$c" = spark-start-up ] && out=/dev/null
  read -r wall _ _ status <<< "$(once "$c" "$out")"
  echo "warm-up $c: ${wall}s, exit $status" >&2
  if [ "$out" != /dev/null ]; then
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("  findings by policy:", json.dumps(r["summary"]["findings_by_policy"], sort_keys=True))' "$out" >&2
  fi
done

declare -A walls=() cpus=() mems=() ratios=()
for i in $(seq 1 "$runs"); do
  native_wall=""
  for c in "${commands[@]}"; do
    read -r wall cpu kb status <<< "$(once "$c" /dev/null)"
    walls[$c]+="$wall "; cpus[$c]+="$cpu "; mems[$c]+="$kb "
    [ "$c" = native ] && native_wall=$wall
    if [ -n "$native_wall" ]; then
      ratios[$c]+="$(awk -v a="$wall" -v b="$native_wall" 'BEGIN { printf "%.3f", a / b }') "
    fi
    echo "round $i $c: ${wall}s wall, ${cpu}s CPU, peak ${kb} KB, exit $status" >&2
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "### Engines on $n events as Parquet, $(date -u +%Y-%m-%d), regwatch $commit, medians of $runs rounds"
echo
echo "| command | wall (s) | CPU (s) | peak memory (MiB) | wall / native |"
echo "|---|---:|---:|---:|---:|"
for c in "${commands[@]}"; do
  ratio=$(median <<< "${ratios[$c]:-}")
  awk -v c="$c" -v w="$(median <<< "${walls[$c]}")" -v u="$(median <<< "${cpus[$c]}")" \
      -v kb="$(median <<< "${mems[$c]}")" -v r="${ratio:-n/a}" \
      'BEGIN { printf "| %s | %.2f | %.2f | %.0f | %s |\n", c, w, u, kb / 1024, r }'
done
