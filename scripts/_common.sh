# Shared helpers for scripts/*; sourced, not run. Each script cds to the repository root.

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root (CI, containers), else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    return 127
  fi
}

# apt_install PACKAGE... — Debian/Ubuntu only; returns 2 when there is no apt (e.g. macOS).
# Non-interactive so CI (no stdin) never stops at a prompt; updates the lists first because
# a fresh machine may have none, or stale ones that name versions no longer on the mirror.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 2
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    say "apt-get needs root and there is no sudo"
    return 1
  fi
  say "installing with apt-get: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    || { say "apt-get update failed"; return 1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends -o Dpkg::Use-Pty=0 "$@" >/dev/null \
    || { say "apt-get install $* failed"; return 1; }
}
