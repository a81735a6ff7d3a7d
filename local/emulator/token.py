"""`make token USER=<id>`: print a JWT that the running local stack accepts for user <id>.

Only the token goes to stdout, so `TOKEN=$(make token USER=alice)` works. It is an HS256 user
token signed with the stack's UserTokenSecret (AWSCURRENT, read from the stack's moto), valid
for an hour, carrying `iss`/`aud` when the stack was started with JWT_ISSUER/JWT_AUDIENCE, as
the authorizer then requires.
"""

from __future__ import annotations

import sys
import time

import jwt

from local.emulator.stack import LocalAws, running_stack_state

TTL_SECONDS = 3600
MAX_USER_ID_CHARS = 256


def mint_user_token(
    secret: str, user_id: str, *, issuer: str = "", audience: str = "", ttl: int = TTL_SECONDS
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].strip() or len(args[0]) > MAX_USER_ID_CHARS:
        print("usage: make token USER=<user_id>  (1-256 characters)", file=sys.stderr)
        return 2
    state = running_stack_state()
    if state is None:
        print(
            "make token: no local stack is running; start one with `make dev` (in another terminal) first",
            file=sys.stderr,
        )
        return 1
    aws = LocalAws(state["aws_endpoint_url"], state["region"])
    secret = aws.client("secretsmanager").get_secret_value(
        SecretId=state["resources"]["UserTokenSecret"], VersionStage="AWSCURRENT"
    )["SecretString"]
    parameters = state.get("parameters") or {}
    print(
        mint_user_token(
            secret,
            args[0],
            issuer=parameters.get("JwtIssuer", ""),
            audience=parameters.get("JwtAudience", ""),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
