#!/usr/bin/env bash
# Checks the CUDA backend end to end on a GPU machine in one run and prints a compact table (also in
# $OUT/summary.txt; every step's full log is $OUT/<step>.log).
#
#   bash scripts/gpu/run_all.sh [group ...]
#
# Groups, in priority order (default: all but fullsize28): info compile selftest-small fixtures selftest-21b fullsize
# bench selftest-other fullsize28. Steps stop being started when the time budget ($BUDGET seconds, default 550) runs
# out; they are then listed as SKIP and can be run in a second call by naming their groups.
#
# fullsize28 (about 2-4 minutes, its own call: `bash scripts/gpu/run_all.sh compile fullsize28`): the whole 28-layer
# ERNIE-4.5-21B-A3B with random weights, saved by transformers (43.6 GB of bf16 safetensors in /dev/shm, or /tmp when
# /dev/shm is too small; removed afterwards), compared layer by layer (hidden states after the embedding, every layer
# and the final norm) and in log-probabilities against transformers in float32 on the same GPU.
#
# Needs: the `ernie` binary with its ErnieServe_ErnieCUDA.resources bundle beside it ($ERNIE_BIN, default
# .device/ernie, as built by ../shared/tools/device-pack), the repository's Tests/Fixtures/models, models/configs and
# scripts/gpu; for the `fullsize` and `fullsize28` groups a Python with torch + transformers ($PYTHON, else the first of
# python3, /opt/torch/.venv/bin/python that imports both).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
BIN=${ERNIE_BIN:-$ROOT/.device/ernie}
BUDGET=${BUDGET:-550}
START=$(date +%s)
SUMMARY=$OUT/summary.txt
export ERNIE_KERNEL_CACHE=${ERNIE_KERNEL_CACHE:-/tmp/ernie-kernel-cache}
GROUPS_WANTED=${*:-info compile selftest-small fixtures selftest-21b fullsize bench selftest-other}
: > "$SUMMARY"

wanted() { [[ " $GROUPS_WANTED " == *" $1 "* ]]; }

# step NAME LIMIT_SECONDS COMMAND...: runs with a timeout, logs to $OUT/NAME.log, appends a summary row.
step() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - ($(date +%s) - START)))
    if ((left < 15)); then
        printf '%-30s %-7s %7s  %s\n' "$name" SKIP "-" "time budget used up" | tee -a "$SUMMARY"
        return
    fi
    ((limit > left)) && limit=$left
    local t0 t1 rc status detail
    t0=$(date +%s.%N)
    timeout -k 10 "$limit" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    case $rc in
        0) status=PASS ;;
        124 | 137) status=TIMEOUT ;;
        *) status=FAIL ;;
    esac
    detail=$(grep -E '^selftest: |^cuda  (PASS|FAIL)|tok/s|^OK |^FAIL|^device|NOT AVAILABLE|error|Error|rror:' \
        "$OUT/$name.log" | grep -vE '^(PASS) ' | head -4 | tr '\n' '|' | sed 's/|$//' | cut -c1-240)
    [ -z "$detail" ] && detail=$(tail -1 "$OUT/$name.log" | cut -c1-200)
    printf '%-30s %-7s %6.1fs  %s\n' "$name" "$status" "$(awk "BEGIN { print $t1 - $t0 }")" "$detail" \
        | tee -a "$SUMMARY"
}

# A folder with room for the 28-layer checkpoint (46 GB): /dev/shm (memory, fastest) else /tmp; empty when neither.
fullsize28_dir() {
    local need=$((46 * 1000 * 1000)) base avail
    for base in /dev/shm /tmp; do
        avail=$(df -Pk "$base" 2> /dev/null | awk 'NR == 2 { print $4 }')
        if [ -n "$avail" ] && ((avail * 1024 / 1000 >= need)); then
            echo "$base/ernie-fullsize28"
            return
        fi
    done
}

find_python() {
    for p in ${PYTHON:-} python3 /opt/torch/.venv/bin/python /opt/torch/.venv/bin/python3; do
        if command -v "$p" > /dev/null 2>&1 && "$p" -c 'import torch, transformers' > /dev/null 2>&1; then
            echo "$p"
            return
        fi
    done
}

echo "ernie: $BIN   out: $OUT   kernel cache: $ERNIE_KERNEL_CACHE   budget: ${BUDGET}s   groups: $GROUPS_WANTED"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader > "$OUT/nvidia-smi.txt" 2>&1
cat "$OUT/nvidia-smi.txt"
if [ ! -x "$BIN" ]; then
    echo "no ernie binary at $BIN (run ../shared/tools/device-pack and carry .device/)" | tee -a "$SUMMARY"
    exit 2
fi

if wanted info; then step info 60 "$BIN" cuda info; fi
if wanted compile; then
    rm -rf "$ERNIE_KERNEL_CACHE"
    step compile 180 "$BIN" cuda compile
fi
# ERNIE_CUDA_SYNC=1 waits after every kernel so a faulting kernel is named in the log (slower, fine for checks).
if wanted selftest-small; then step selftest-small 150 env ERNIE_CUDA_SYNC=1 "$BIN" cuda selftest --shapes small; fi
if wanted fixtures; then
    for dir in Tests/Fixtures/models/*/; do
        name=$(basename "$dir")
        [ -f "$dir/reference.json" ] || continue
        step "check-$name" 90 env ERNIE_CUDA_SYNC=1 "$BIN" cuda check --model-path "$dir"
    done
fi
if wanted selftest-21b; then
    # One process per op group: a kernel fault poisons the CUDA context, so later cases would all fail too.
    for ops in embed,rmsnorm,silu,random linear attention moe sample forward decode; do
        step "selftest-21b-${ops%%,*}" 150 env ERNIE_CUDA_SYNC=1 "$BIN" cuda selftest --shapes ernie-21b --op "$ops"
    done
fi
if wanted fullsize; then
    PY=$(find_python)
    if [ -z "$PY" ]; then
        printf '%-30s %-7s %7s  %s\n' fullsize-fixture SKIP "-" "no python with torch + transformers" \
            | tee -a "$SUMMARY"
    else
        step fullsize-fixture 300 "$PY" scripts/gpu/make_fullsize_fixture.py --out /tmp/ernie-fullsize
        for n in 1 2; do
            if [ -f /tmp/ernie-fullsize/layers-$n/reference.json ]; then
                step "check-fullsize-layers-$n" 150 "$BIN" cuda check --model-path /tmp/ernie-fullsize/layers-$n
            fi
        done
    fi
fi
if wanted bench; then
    step bench-21b-dummy 240 "$BIN" cuda bench --model-path models/configs/ERNIE-4.5-21B-A3B-PT \
        --load-format dummy --batch 1,8,64 --steps 8 --context 512 --prefill 2048
fi
if wanted selftest-other; then
    step selftest-0.3b 200 env ERNIE_CUDA_SYNC=1 "$BIN" cuda selftest --shapes ernie-0.3b
    step selftest-300b 240 env ERNIE_CUDA_SYNC=1 "$BIN" cuda selftest --shapes ernie-300b
fi

if wanted fullsize28; then
    PY=$(find_python)
    rm -rf /tmp/ernie-fullsize /dev/shm/ernie-fullsize28 /tmp/ernie-fullsize28 # earlier fixtures: room for 43.6 GB
    DIR=$(fullsize28_dir)
    if [ -z "$PY" ]; then
        printf '%-30s %-7s %7s  %s\n' fullsize28-fixture SKIP "-" "no python with torch + transformers" \
            | tee -a "$SUMMARY"
    elif [ -z "$DIR" ]; then
        printf '%-30s %-7s %7s  %s\n' fullsize28-fixture SKIP "-" "needs 46 GB free in /dev/shm or /tmp" \
            | tee -a "$SUMMARY"
    else
        df -h /dev/shm /tmp > "$OUT/fullsize28-disk.txt" 2>&1
        step fullsize28-fixture 330 "$PY" scripts/gpu/make_fullsize_fixture.py --out "$DIR" --layers 28 \
            --prompts 5,32 --greedy 4
        if [ -f "$DIR/layers-28/reference.json" ]; then
            cp "$DIR/layers-28/reference.json" "$OUT/fullsize28-reference.json"
            step check-fullsize-layers-28 200 "$BIN" cuda check --model-path "$DIR/layers-28"
        fi
        rm -rf "$DIR"
    fi
fi
echo
echo "================ summary ($(($(date +%s) - START))s) ================"
cat "$SUMMARY"
echo "failed cases:"
grep -h '^FAIL ' "$OUT"/selftest-*.log 2>/dev/null | head -40
grep -hE "error|Error" "$OUT"/*.log 2>/dev/null | sort -u | head -20 || true
if grep -qE '^[^ ]+ +(FAIL|TIMEOUT) ' "$SUMMARY"; then exit 1; fi
exit 0
