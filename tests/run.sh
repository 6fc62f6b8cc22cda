#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (a virtualenv with Vigil and
# its test tools; Debian's chromium for the browser tests), runs pytest on SQLite, then, when
# VIGIL_TEST_POSTGRES_URL is set, the database-backed tests again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/swaks ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium swaks prometheus >/dev/null
fi

.venv/bin/ruff check app tests bench
echo "== pytest on SQLite"
.venv/bin/python -m pytest -q -n 2 -m "not e2e" "$@"
echo "== browser tests (serial: one Chromium at a time)"
.venv/bin/python -m pytest -q -m e2e "$@"
if [ -n "${VIGIL_TEST_POSTGRES_URL:-}" ]; then
  echo "== pytest on PostgreSQL"
  VIGIL_TEST_DB=postgres .venv/bin/python -m pytest -q -n 2 -m "not e2e" "$@"
fi
