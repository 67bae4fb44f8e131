#!/usr/bin/env bash
# Benchmark: `regwatch audit` (with the shipped Sigma rules, the default, and with
# --no-sigma) against a floor (cat) and a DuckDB baseline, on N generated audit events
# (default 10,000,000) as JSON lines in two shapes (the generator's compact one, and a
# second with spaces, explicit nulls, missing optional fields and keys in another order:
# gen_audit.py --shape spaced) and as Parquet. Each command runs once to warm the page
# cache, then RUNS times (default 5), the commands taking turns; prints the median wall
# time, the median peak memory (max RSS) and the ratio to the DuckDB median on the same
# file, as Markdown.
# Not a test: timings depend on the machine; nothing here asserts a number.
#
#   benches/audit.sh [N] [RUNS]          (data cached in ${BENCH_DIR:-/tmp/regwatch-bench})
#
# DuckDB baseline: benches/duckdb_policies.py loads the file into an in-memory table and runs
# three core policies (destructive prod by an AI without human approval, blast radius,
# self-approval) as SQL. regwatch evaluates every enabled policy, so it does more work.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
runs=${2:-5}
work=${BENCH_DIR:-/tmp/regwatch-bench}
mkdir -p "$work"
jsonl="$work/audit-$n.jsonl"
spaced="$work/audit-$n-spaced.jsonl"
parquet="$work/audit-$n.parquet"
bin=target/release/regwatch

die() { echo "audit.sh: $*" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || die "/usr/bin/time (GNU time) is needed: apt-get install time"

cargo build --release --quiet
[ -x "$bin" ] || die "$bin was not built"
"$bin" audit --help >/dev/null 2>&1 \
  || die "$bin has no working 'audit' command yet ('$bin audit --help' failed); nothing timed"

if ! python3 -c 'import duckdb' 2>/dev/null; then
  echo "installing duckdb: python3 -m pip install duckdb" >&2
  python3 -m pip install --quiet duckdb
fi
if [ ! -s "$jsonl" ] || [ ! -s "$parquet" ]; then
  echo "generating $n events into $jsonl and $parquet" >&2
  python3 benches/gen_audit.py "$n" "$jsonl" --parquet "$parquet"
fi
if [ ! -s "$spaced" ]; then
  echo "generating $n events in the second shape into $spaced" >&2
  python3 benches/gen_audit.py "$n" "$spaced" --shape spaced
fi
echo "input: $jsonl $(wc -c < "$jsonl") bytes; $spaced $(wc -c < "$spaced") bytes; $parquet $(wc -c < "$parquet") bytes; $n events" >&2

results=()   # "label|file kind|median s|median KB"

# once LABEL OK_MAX OUT CMD...: time CMD once (stdout to OUT); prints "wall KB". An exit
# status above OK_MAX is a failure (regwatch audit: 1 = findings).
once() {
  local label=$1 ok_max=$2 out=$3; shift 3
  local status=0
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" > "$out" 2> "$work/stderr.txt" || status=$?
  if [ "$status" -gt "$ok_max" ]; then
    cat "$work/stderr.txt" >&2
    die "$label: '$*' failed with exit status $status"
  fi
  tail -n 1 "$work/time.txt"
}

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The three commands take turns, round by round (each run once first to warm the page
# cache, not timed), so that a change in the shared machine's speed during the run falls
# on all three alike rather than on whichever ran last.
for kind in jsonl spaced parquet; do
  case $kind in jsonl) file=$jsonl ;; spaced) file=$spaced ;; *) file=$parquet ;; esac
  labels=("floor: cat" "regwatch audit" "regwatch audit --no-sigma" "duckdb (3 policies)")
  declare -A walls=() rss=()
  for i in $(seq 0 "$runs"); do
    for label in "${labels[@]}"; do
      case $label in
        "floor: cat") t=$(once "$label" 0 /dev/null cat "$file") ;;
        "regwatch audit") t=$(once "$label" 1 "$work/regwatch-stdout.txt" \
          "$bin" --config regwatch.toml audit "$file" --format json --output /dev/null --quiet) ;;
        "regwatch audit --no-sigma") t=$(once "$label" 1 "$work/regwatch-stdout.txt" \
          "$bin" --config regwatch.toml audit "$file" --no-sigma --format json --output /dev/null --quiet) ;;
        *) t=$(once "$label" 0 "$work/duckdb-$kind.txt" python3 benches/duckdb_policies.py "$file") ;;
      esac
      if [ "$i" -gt 0 ]; then
        read -r wall kb <<< "$t"
        walls[$label]+="$wall "; rss[$label]+="$kb "
        echo "$label ($kind) run $i: ${wall}s, peak ${kb} KB" >&2
      fi
    done
  done
  echo "duckdb counts ($kind): $(cat "$work/duckdb-$kind.txt")" >&2
  for label in "${labels[@]}"; do
    wall=$(tr ' ' '\n' <<< "${walls[$label]}" | grep . | median)
    kb=$(tr ' ' '\n' <<< "${rss[$label]}" | grep . | median)
    results+=("$label|$kind|$wall|$kb")
  done
  unset walls rss
done

echo
echo "### regwatch audit benchmark: $n events, median of $runs runs"
echo
echo "| command | input | median wall (s) | median peak RSS (MiB) | x DuckDB |"
echo "|---|---|---:|---:|---:|"
for r in "${results[@]}"; do
  IFS='|' read -r label kind wall kb <<< "$r"
  base=""
  for s in "${results[@]}"; do
    IFS='|' read -r l2 k2 w2 _ <<< "$s"
    [ "$l2" = "duckdb (3 policies)" ] && [ "$k2" = "$kind" ] && base=$w2
  done
  awk -v l="$label" -v k="$kind" -v w="$wall" -v kb="$kb" -v b="$base" 'BEGIN {
    ratio = (b > 0) ? sprintf("%.2f", w / b) : "n/a"
    printf "| %s | %s | %.2f | %.0f | %s |\n", l, k, w, kb / 1024, ratio }'
done
echo
echo "DuckDB counts: jsonl $(cat "$work/duckdb-jsonl.txt"); spaced $(cat "$work/duckdb-spaced.txt"); parquet $(cat "$work/duckdb-parquet.txt")"
