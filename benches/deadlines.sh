#!/usr/bin/env bash
# Benchmark: generate N incidents (default 1,000,000) and time
#   regwatch deadlines FILE --format json > OUT
# over several runs, reporting the median wall time and peak memory (max RSS).
# Not a test: timings depend on the machine; nothing here asserts a number.
#
#   benches/deadlines.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
runs=${2:-5}
work=${BENCH_DIR:-/tmp/regwatch-bench}
mkdir -p "$work"
data="$work/incidents-$n.csv"
if [ ! -s "$data" ]; then
  echo "generating $n incidents into $data" >&2
  python3 benches/gen_incidents.py "$n" > "$data.tmp" && mv "$data.tmp" "$data"
fi
cargo build --release --quiet
bin=target/release/regwatch
echo "input: $(wc -c < "$data") bytes, $n incidents" >&2
times=()
for i in $(seq 0 "$runs"); do
  # Run 0 warms the page cache and is not counted.
  /usr/bin/time -f "%e %M" -o "$work/time.txt" \
    "$bin" --config regwatch.toml deadlines "$data" --now 2026-11-28T12:00:00Z \
    --format json > "$work/out.json" 2> "$work/stderr.txt" || true
  read -r wall rss < <(tail -n 1 "$work/time.txt")
  [ "$i" -gt 0 ] && times+=("$wall $rss") && echo "run $i: ${wall}s, peak ${rss} KB" >&2
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="${#times[@]}" '
  { wall[NR]=$1; rss[NR]=$2 }
  END { m=int((n+1)/2); printf "median of %d runs: %.2f s wall, peak memory %.0f MiB (output %s)\n", n, wall[m], rss[m]/1024, "'"$work/out.json"'" }'
ls -l "$work/out.json" >&2
