#!/usr/bin/env bash
# Runs every fuzz target for a fixed time (default 600 s each), seeded with the real files in
# tests/data and the shipped examples. Needs the nightly toolchain (cargo-fuzz uses
# sanitizers); installs cargo-fuzz once. A crash stops the run and leaves its input under
# fuzz/artifacts/<target>/: turn it into a regression test, fix it, run again.
#
#   fuzz/run.sh              # every target, 600 s each
#   fuzz/run.sh 60 envelope  # one target, 60 s
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$HOME/.cargo/bin:$PATH"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(police_uk_csv force_csv force_json national_ndjson envelope record_json api_params)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

data=../tests/data
mkdir -p corpus
seed() { # target, files…
    local dir="corpus/$1"
    shift
    mkdir -p "$dir"
    for file in "$@"; do
        [ -f "$file" ] && cp -n "$file" "$dir/" || true
    done
}
seed police_uk_csv "$data"/police-uk/*/*.csv
# Realistic exports of each dialect: three months of three forces from the simulator.
simulation=corpus/.simulation
if [ ! -d "$simulation" ]; then
    (cd .. && cargo build --quiet -p cyberflag --bin cyberflag)
    printf 'seed = 7\nfrom = "2019-01-01"\nto = "2019-03-31"\ntoday = "2019-04-01"\nforces = ["west-mercia", "avon-and-somerset", "metropolitan"]\n' \
        > corpus/.options.toml
    ../target/debug/cyberflag simulate --out "$simulation" --options corpus/.options.toml >/dev/null
fi
seed force_csv "$simulation"/exports/west-mercia/*.csv
seed force_json "$simulation"/exports/avon-and-somerset/*.json
seed national_ndjson "$simulation"/exports/metropolitan/*.ndjson
seed record_json "$simulation"/exports/metropolitan/*.ndjson
seed envelope "$simulation"/exports/metropolitan/*.ndjson
mkdir -p corpus/api_params
printf 'by=force,month&from=2019-01-01&to=2019-12-31&force=west-mercia&cyber=true&format=csv' \
    > corpus/api_params/query

status=0
for target in "${targets[@]}"; do
    echo "== $target: ${seconds}s"
    started=$(date +%s)
    if cargo +nightly fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=1048576 -timeout=20 \
        2> "logs-$target.txt"; then
        runs=$(grep -o 'Done [0-9]* runs' "logs-$target.txt" | tail -1 || true)
        echo "   clean after $(( $(date +%s) - started ))s: ${runs:-see logs-$target.txt}"
    else
        echo "   CRASH: see fuzz/artifacts/$target/ and logs-$target.txt"
        status=1
    fi
done
exit $status
