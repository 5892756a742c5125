# Sourced by the benchmark scripts: builds the release binaries named in
# $@ (a no-op when up to date; NO_BUILD=1 skips it) and sets $release to
# the directory that holds them.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${NO_BUILD:-}" ]]; then
    bins=()
    for b in "$@"; do bins+=(--bin "$b"); done
    (cd "$repo" && cargo build --release "${bins[@]}")
fi
release="${CARGO_TARGET_DIR:-$repo/target}/release"
mkdir -p "$repo/bench/results"
