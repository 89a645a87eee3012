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
if ! (command -v fc-list >/dev/null 2>&1 && fc-list | grep -qiE 'Noto Sans CJK|WenQuanYi'); then
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
say "ready"
