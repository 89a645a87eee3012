#!/usr/bin/env python3
"""Create and check the YouTube OAuth token file (YOUTUBE_TOKEN_FILE).

The YouTube publisher authenticates as a channel owner with an *authorized-user* token file:

    {"type": "authorized_user", "client_id": "...", "client_secret": "...",
     "refresh_token": "...", "token_uri": "https://oauth2.googleapis.com/token"}

The publisher refreshes the access token itself and writes it back into the file (mode 0600).

    python scripts/youtube_token.py howto                 # how to get a client and a refresh token
    python scripts/youtube_token.py create --out PATH     # write the file (asks for the secrets)
    python scripts/youtube_token.py check [--token-file PATH] [--base-url URL]
                                                          # load, refresh, print the channel title

google-auth-oauthlib (which runs the browser consent flow) is not a dependency; ``howto``
describes the steps to get the refresh token without it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPES = (
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube",
)

HOWTO = f"""\
Getting a YouTube token file (once per channel)
===============================================

1. Google Cloud console (https://console.cloud.google.com/): pick or create a project and
   enable "YouTube Data API v3" (APIs & Services > Library).

2. OAuth consent screen (Google Auth Platform > Branding / Audience / Data access):
   user type External, add the scopes
       {SCOPES[0]}
       {SCOPES[1]}
   and add the channel owner's Google account as a test user.
   - While the app's publishing status is "Testing", refresh tokens expire after 7 days:
     set it to "In production" for a long-lived token.
   - Videos uploaded through an unverified API project are locked to private until the
     project passes YouTube's API compliance audit.

3. Credentials > Create credentials > OAuth client ID, type "Desktop app".
   Note its client ID and client secret.

4. Get a refresh token for the channel owner, with either:

   a) The browser + curl (no extra software). Open, signed in as the channel owner:

      https://accounts.google.com/o/oauth2/v2/auth?client_id=CLIENT_ID&redirect_uri=http://127.0.0.1:8765&response_type=code&access_type=offline&prompt=consent&scope={'%20'.join(SCOPES)}

      Approve; the browser is sent to http://127.0.0.1:8765/?code=...&scope=... (the page
      fails to load: that is fine). Copy the value of "code" (URL-decode %2F to /), then:

      curl -s {GOOGLE_TOKEN_URI} -d grant_type=authorization_code \\
           -d client_id=CLIENT_ID -d client_secret=CLIENT_SECRET \\
           -d redirect_uri=http://127.0.0.1:8765 --data-urlencode code=CODE

      The reply's "refresh_token" is what you need (the code works once, for minutes).

   b) On a machine with google-auth-oauthlib (pip install google-auth-oauthlib), with the
      client's JSON downloaded as client_secret.json:

      from google_auth_oauthlib.flow import InstalledAppFlow
      flow = InstalledAppFlow.from_client_secrets_file("client_secret.json", {list(SCOPES)!r})
      print(flow.run_local_server(port=0).to_json())

      That JSON is already a valid token file.

5. Write the file (the secrets are asked for, not taken from the command line):

      python scripts/youtube_token.py create --out secrets/youtube_token.json

   or set YOUTUBE_CLIENT_ID, YOUTUBE_CLIENT_SECRET and YOUTUBE_REFRESH_TOKEN in the
   environment first. The file is written with mode 0600; keep it out of version control.

6. Configure and check:

      export YOUTUBE_TOKEN_FILE=secrets/youtube_token.json
      export YTMAKER_PUBLISH_PROVIDER=youtube
      python scripts/youtube_token.py check

   "check" refreshes the access token (saved back into the file) and prints the channel the
   videos will go to.
"""


def _write_private(path: Path, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _ask(env: str, prompt: str, secret: bool, given: str | None = None) -> str:
    value = given or os.environ.get(env, "")
    if not value:
        if not sys.stdin.isatty():
            raise SystemExit(f"error: {env} is not set and there is no terminal to ask for it")
        value = getpass.getpass(f"{prompt}: ") if secret else input(f"{prompt}: ")
    value = value.strip()
    if not value:
        raise SystemExit(f"error: {prompt.lower()} is empty")
    return value


def cmd_howto(_: argparse.Namespace) -> int:
    print(HOWTO)
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser()
    if out.exists() and not args.force:
        print(f"error: {out} exists (use --force to replace it)", file=sys.stderr)
        return 1
    info = {
        "type": "authorized_user",
        "client_id": _ask("YOUTUBE_CLIENT_ID", "OAuth client ID", False, args.client_id),
        "client_secret": _ask("YOUTUBE_CLIENT_SECRET", "OAuth client secret", True),
        "refresh_token": _ask("YOUTUBE_REFRESH_TOKEN", "Refresh token", True),
        "token_uri": args.token_uri,
        "scopes": list(SCOPES),
    }
    _write_private(out, info)
    print(f"wrote {out} (mode 0600). Next: YOUTUBE_TOKEN_FILE={out} python scripts/youtube_token.py check")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ytmaker.providers.errors import ProviderError
    from ytmaker.providers.youtube import YouTubePublisher
    from ytmaker.core.settings import get_settings

    settings = get_settings()
    token_file = Path(args.token_file).expanduser() if args.token_file else settings.youtube_token_file
    if token_file is None:
        print("error: give --token-file or set YOUTUBE_TOKEN_FILE (see: youtube_token.py howto)", file=sys.stderr)
        return 1
    token_file = Path(token_file).expanduser()
    if not token_file.is_file():
        print(f"error: {token_file} does not exist (see: youtube_token.py howto)", file=sys.stderr)
        return 1
    try:
        info = json.loads(token_file.read_text(encoding="utf-8"))
        missing = [k for k in ("client_id", "client_secret", "refresh_token") if not info.get(k)]
    except (OSError, ValueError, AttributeError) as exc:
        print(f"error: {token_file} is not a JSON token file ({type(exc).__name__})", file=sys.stderr)
        return 1
    if missing:
        print(f"error: {token_file} lacks {', '.join(missing)} (see: youtube_token.py howto)", file=sys.stderr)
        return 1
    mode = token_file.stat().st_mode & 0o777
    if mode & 0o077:
        print(f"warning: {token_file} is readable by others (mode {mode:o}); chmod 600 it", file=sys.stderr)

    publisher = YouTubePublisher(
        token_file=token_file,
        base_url=args.base_url or settings.youtube_base_url,
        timeout=args.timeout or settings.http_timeout_seconds,
    )
    try:
        channel = publisher.channel()
    except ProviderError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    print(f"token OK: {token_file} (refreshed access token saved)")
    print(f"channel: {channel['title']} ({channel['id']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("howto", help="how to get an OAuth client and a refresh token").set_defaults(func=cmd_howto)

    create = sub.add_parser("create", help="write an authorized-user token file")
    create.add_argument("--out", required=True, help="where to write the token file")
    create.add_argument("--client-id", help="OAuth client ID (else YOUTUBE_CLIENT_ID or a prompt)")
    create.add_argument("--token-uri", default=GOOGLE_TOKEN_URI, help=f"token endpoint (default {GOOGLE_TOKEN_URI})")
    create.add_argument("--force", action="store_true", help="replace an existing file")
    create.set_defaults(func=cmd_create)

    check = sub.add_parser("check", help="load and refresh the token, print the channel title")
    check.add_argument("--token-file", help="token file (default: YOUTUBE_TOKEN_FILE)")
    check.add_argument("--base-url", help="API base URL (default: YOUTUBE_BASE_URL)")
    check.add_argument("--timeout", type=float, help="HTTP timeout in seconds")
    check.set_defaults(func=cmd_check)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
