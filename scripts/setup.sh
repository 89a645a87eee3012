#!/usr/bin/env bash
# Everything `make demo` and `make test` need on a fresh Debian/Ubuntu machine:
# system packages, the virtualenv with pinned packages, and a Redis server.
# Each step checks first and does nothing when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
REDIS_URL=${REDIS_URL:-redis://localhost:6379/0}

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root for: $* (install these packages yourself)" >&2; return 1; fi
}

# ---- system packages -------------------------------------------------------
missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v fc-match >/dev/null 2>&1 || missing+=(fontconfig)
# grep reads all of fc-list's output (no -q): with pipefail, an early exit would make fc-list
# die of SIGPIPE and the fonts look missing, reinstalled on every run.
if ! (command -v fc-list >/dev/null 2>&1 && fc-list | grep -iE 'Noto Sans CJK|WenQuanYi' >/dev/null); then
  missing+=(fonts-noto-cjk fonts-wqy-microhei)
fi
command -v redis-server >/dev/null 2>&1 || command -v redis-cli >/dev/null 2>&1 || missing+=(redis-server)
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- virtualenv --------------------------------------------------------------
stamp="$VENV/.ytmaker-installed"
want=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python packages (pinned in requirements.lock)"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -c requirements.lock -e ".[test]"
  echo "$want" > "$stamp"
fi

# ---- Redis -------------------------------------------------------------------
if ! "$VENV/bin/python" - "$REDIS_URL" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
then
  host_port=$("$VENV/bin/python" -c 'import sys; from urllib.parse import urlsplit; u=urlsplit(sys.argv[1]); print(u.hostname or "localhost", u.port or 6379)' "$REDIS_URL")
  read -r host port <<<"$host_port"
  case "$host" in
    localhost|127.0.0.1|::1)
      if ! command -v redis-server >/dev/null 2>&1; then
        say "installing redis-server"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends redis-server >/dev/null
      fi
      say "starting redis-server on 127.0.0.1:$port"
      mkdir -p .redis
      redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --dir "$PWD/.redis" --logfile "$PWD/.redis/redis.log"
      for _ in $(seq 1 50); do
        "$VENV/bin/python" -c "import redis; redis.Redis(port=$port).ping()" >/dev/null 2>&1 && break
        sleep 0.1
      done
      ;;
    *)
      echo "Redis at $REDIS_URL does not answer and is not local: start it, or unset REDIS_URL." >&2
      exit 1
      ;;
  esac
fi
# ---- PostgreSQL (the tests' production-mode service runs on it) -------------------
# `setup.sh test` only: the demo needs no PostgreSQL. A server that answers at
# YTMAKER_TEST_POSTGRES_URL is used as it is. With no PostgreSQL on this machine, Debian's
# postgresql is installed and started, with trust auth for 127.0.0.1 and a `test` database.
# A cluster that was here before is someone else's: it may be started, never reconfigured
# (no pg_hba.conf edit, no new database); if it still does not answer, set-up stops.
PG_URL=${YTMAKER_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}
pg_ok() { "$VENV/bin/python" -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' "$PG_URL" >/dev/null 2>&1; }
# Why the last connection failed, on one line (a missing database reads differently from no server).
pg_error() {
  "$VENV/bin/python" - "$PG_URL" <<'PY' 2>&1 | tail -1
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as e:
    print(" ".join(str(e).split()) or type(e).__name__)
PY
}
pg_url_shown=$(printf '%s' "$PG_URL" | sed -E 's#//([^:/@]+):[^@/]*@#//\1:***@#')  # no password in messages
pg_give_up() {
  echo "PostgreSQL at $pg_url_shown does not answer ($1): $(pg_error)" >&2
  echo "Set YTMAKER_TEST_POSTGRES_URL to a PostgreSQL server that works (a database the tests may use)." >&2
  exit 1
}
if [ "${1:-}" = "test" ] && ! pg_ok; then
  case "$PG_URL" in
    *@127.0.0.1:5432/*|*@localhost:5432/*|*@127.0.0.1/*|*@localhost/*) ;;
    *) pg_give_up "not a local default-port server, so set-up will not start one there" ;;
  esac
  installed_here=0
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    say "installing postgresql"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    installed_here=1
  fi
  conf=$(ls -d /etc/postgresql/*/main 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$conf" ] || pg_give_up "pg_ctlcluster is installed but there is no cluster in /etc/postgresql"
  version=$(basename "$(dirname "$conf")")
  if [ "$installed_here" = 1 ]; then
    # Our own fresh test server: password-less TCP from 127.0.0.1, and the database.
    if ! as_root grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
      say "PostgreSQL $version: trust auth for local TCP connections (a test server)"
      as_root sed -i '1i host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"
    fi
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster "$version" main start 2>/dev/null || as_root pg_ctlcluster "$version" main reload
    for _ in $(seq 1 50); do pg_ok && break; "$VENV/bin/python" -c 'import sys, psycopg; psycopg.connect(sys.argv[1].rsplit("/",1)[0] + "/postgres", connect_timeout=3, autocommit=True).execute("CREATE DATABASE " + sys.argv[1].rsplit("/",1)[1])' "$PG_URL" >/dev/null 2>&1; sleep 0.2; done
    pg_ok || pg_give_up "the PostgreSQL $version installed here did not come up"
  else
    # Not ours: starting a stopped cluster is harmless; its configuration stays as it is.
    say "starting the existing PostgreSQL $version (its configuration is left alone)"
    as_root pg_ctlcluster "$version" main start 2>/dev/null || true  # "already running" is not an error
    for _ in $(seq 1 25); do pg_ok && break; sleep 0.2; done
    pg_ok || pg_give_up "PostgreSQL $version was installed before this set-up, so it is not reconfigured"
  fi
fi

say "ready"
