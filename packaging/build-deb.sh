#!/usr/bin/env bash
# Builds the Debian package: target/debian/skywatch_<version>-1_<arch>.deb with both binaries,
# the systemd units (agent, collector), the default configs in /etc/skywatch, the system user
# (sysusers.d) and state directory (tmpfiles.d), and shell completions and man pages generated
# from the binaries' own clap definitions. Arguments go to `cargo deb` (e.g. --output DIR).
#   PROFILE=dev      package the debug build (the package test does, to skip a release build)
#   NO_BUILD=1       package what is already built
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-target}"
case "$profile" in
  dev) bin_dir="$target_dir/debug" ;;
  *) bin_dir="$target_dir/$profile" ;;
esac
if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "build-deb: cargo-deb is missing: cargo install --locked cargo-deb --version 3.8.0 (.ci/setup does)" >&2
  exit 1
fi
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --profile "$profile" --bin skywatch --bin logq
fi

assets=target/package-assets
rm -rf "$assets"
mkdir -p "$assets/completions" "$assets/man"
for shell in bash zsh fish; do
  for bin in skywatch logq; do
    "$bin_dir/skywatch" completions "$shell" --for "$bin" > "$assets/completions/$bin.$shell"
  done
done
"$bin_dir/skywatch" man --out "$assets/man"
gzip -9n "$assets/man"/*.1

# Stripped: the release profile keeps line tables for backtraces, which would triple the
# package (pass --separate-debug-symbols or --dbgsym to keep them beside it).
cargo deb --no-build --strip --profile "$profile" "$@"
