#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the
# tests need (idempotent), then checks formatting and lints, then runs the
# tests with cargo-nextest. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# --- what the tests need -------------------------------------------------
# pgjdbc tests: a JDK and Debian's PostgreSQL JDBC driver; psql for the
# quickstart test.
apt_packages=()
command -v javac >/dev/null 2>&1 || apt_packages+=(default-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || apt_packages+=(libpostgresql-jdbc-java)
command -v psql >/dev/null 2>&1 || apt_packages+=(postgresql-client)
if [ ${#apt_packages[@]} -gt 0 ]; then
  log "installing Debian packages: ${apt_packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}"
fi
# Python client tests: psycopg 3, psycopg2, SQLAlchemy 2 and pandas; the
# S3 checkpoint store test: moto's S3-compatible server and boto3.
python_modules="psycopg psycopg2 sqlalchemy pandas moto.server boto3"
if ! python3 -c "import ${python_modules// /, }" >/dev/null 2>&1; then
  log "installing psycopg, psycopg2, SQLAlchemy, pandas, moto and boto3"
  # pip where it may install (a virtualenv, pyenv); Debian's own packages
  # for the system Python, which refuses pip installs (PEP 668).
  if ! python3 -m pip install -q 'psycopg[binary]>=3.1' psycopg2-binary 'sqlalchemy>=2.0' pandas \
      'moto[server]' boto3; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      python3-psycopg python3-psycopg2 python3-sqlalchemy python3-pandas \
      python3-moto python3-boto3 python3-flask python3-flask-cors
  fi
  python3 -c "import ${python_modules// /, }" \
    || { echo "$python_modules: not all importable by $(command -v python3)" >&2; exit 1; }
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# --- checks ----------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
log "tests"
cargo nextest run --workspace --no-fail-fast "$@"
