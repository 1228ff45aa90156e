"""``k12ai-server token create --user alice [--admin] --file tokens.json``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from k12ai_server.security import identifiers
from k12ai_server.security.identifiers import is_identifier
from k12ai_server.security.tokens import hash_token, new_token


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="k12ai-server token", description=__doc__)
    sub = p.add_subparsers(required=True, dest="action")
    create = sub.add_parser("create", help="make a token, store its hash, print the token once")
    create.add_argument("--user", required=True)
    create.add_argument("--admin", action="store_true", help="may act for every user")
    create.add_argument("--file", type=Path, required=True, help="the tokens file (created if missing)")
    args = p.parse_args(argv)
    if not is_identifier(args.user):
        # An empty user would be refused at load anyway; say so before a token is handed out.
        p.error(f"--user {args.user!r} {identifiers.RULE}")
    token = new_token()
    data = json.loads(args.file.read_text(encoding="utf-8")) if args.file.exists() else {"tokens": []}
    data["tokens"].append({"user": args.user, "sha256": hash_token(token), "admin": args.admin})
    tmp = args.file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(args.file)
    print(token)
    return 0
