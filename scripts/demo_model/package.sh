#!/usr/bin/env bash
# package.sh MODEL_DIR OUT_DIR: tar the model folder into OUT_DIR/ernie-demo.tar.part-* (15 MB parts) and print
# the tar's sha256. Reassemble with: cat ernie-demo.tar.part-* > ernie-demo.tar
set -euo pipefail
MODEL=$1
OUT=$2
TMP=$(mktemp -d)
tar -C "$(dirname "$MODEL")" -cf "$TMP/ernie-demo.tar" "$(basename "$MODEL")"
echo "packaged $(basename "$MODEL"): $(stat -c %s "$TMP/ernie-demo.tar") bytes, sha256 $(sha256sum "$TMP/ernie-demo.tar" | cut -d' ' -f1)"
rm -f "$OUT"/ernie-demo.tar.part-*
split -b 15M -a 2 "$TMP/ernie-demo.tar" "$OUT/ernie-demo.tar.part-"
ls -la "$OUT"/ernie-demo.tar.part-*
rm -rf "$TMP"
