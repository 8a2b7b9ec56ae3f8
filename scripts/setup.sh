#!/usr/bin/env bash
# Install guard into .venv (Python 3.12). With --test: also the test tools and the services the
# tests need (a local PostgreSQL server, Debian's Chromium). Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TEST=0
[ "${1:-}" = "--test" ] && WITH_TEST=1

say() { printf '==> %s\n' "$*" >&2; }

find_python() {
    for cand in "${GUARD_PYTHON:-}" python3.12; do
        if [ -n "$cand" ] && command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then
            echo "$cand"; return
        fi
    done
    if command -v pyenv >/dev/null 2>&1 || [ -x "$HOME/.pyenv/bin/pyenv" ]; then
        local pyenv_bin; pyenv_bin=$(command -v pyenv || echo "$HOME/.pyenv/bin/pyenv")
        # Prefer 3.12 (what guard is developed and measured on), else the newest later 3.x.
        local v; v=$("$pyenv_bin" versions --bare 2>/dev/null | grep -E '^3\.12\.' | sort -V | tail -n1 || true)
        [ -n "$v" ] || v=$("$pyenv_bin" versions --bare 2>/dev/null | grep -E '^3\.1[3-9]\.' | sort -V | tail -n1 || true)
        if [ -n "$v" ]; then echo "$("$pyenv_bin" root)/versions/$v/bin/python"; return; fi
    fi
    for cand in python3 python; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then
            echo "$cand"; return
        fi
    done
    echo "guard needs Python >= 3.12 (mitmproxy 12 requires it). Install it (pyenv install 3.12, or your distribution's python3.12) or set GUARD_PYTHON." >&2
    exit 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then
    PY=$(find_python)
    say "creating .venv with $($PY --version)"
    rm -rf .venv
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ "$WITH_TEST" = 1 ]; then
    say "installing guard and test tools into .venv"
    .venv/bin/python -m pip install -q -e ".[test]"
else
    say "installing guard into .venv"
    .venv/bin/python -m pip install -q -e .
fi

if [ "$WITH_TEST" = 1 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    apt_updated=0
    apt_install() {
        if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq >/dev/null; apt_updated=1; fi
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
    }
    pg_up() { .venv/bin/python - "$1" <<'PYEOF'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception:
    sys.exit(1)
PYEOF
    }
    PG_URL="${GUARD_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}"
    if ! pg_up "$PG_URL"; then
        if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
            say "installing PostgreSQL from Debian's packages"
            apt_install postgresql
        fi
        ver=$(ls /etc/postgresql | sort -V | tail -n1)
        conf=/etc/postgresql/$ver/main
        # Loopback only, trust auth for the local test database: this server exists for the tests.
        grep -q "guard-test" "$conf/pg_hba.conf" || $SUDO sed -i '1i host all all 127.0.0.1/32 trust # guard-test\nhost all all ::1/128 trust # guard-test' "$conf/pg_hba.conf"
        say "starting PostgreSQL $ver on 127.0.0.1:5432"
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || $SUDO pg_ctlcluster "$ver" main restart
        for _ in $(seq 1 30); do pg_up "postgresql://postgres@127.0.0.1:5432/postgres" && break; sleep 1; done
        if ! pg_up "$PG_URL"; then
            $SUDO -u postgres psql -qc "CREATE DATABASE test" >/dev/null 2>&1 || psql -U postgres -h 127.0.0.1 -qc "CREATE DATABASE test" >/dev/null
        fi
    fi
    if ! command -v chromium >/dev/null 2>&1; then
        say "installing Chromium from Debian's packages (browser tests)"
        apt_install chromium
    fi
    if ! command -v tesseract >/dev/null 2>&1; then
        say "installing tesseract from Debian's packages (OCR tests; guard proxy --ocr)"
        apt_install tesseract-ocr
    fi
    if ! tesseract --list-langs 2>/dev/null | grep -qx chi_sim || [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
        say "installing tesseract's Chinese data and a CJK font from Debian's packages (Chinese OCR tests)"
        apt_install tesseract-ocr-chi-sim fonts-wqy-microhei
    fi
fi
say "ready"
