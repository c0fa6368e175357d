"""Token signing keys in SSM: show, add, activate and retire keys without logging anyone out.

    python -m infra.keys show      [--private /bank/jwt/signing-keys] [--public /bank/jwt/jwks]
    python -m infra.keys add       # a new Ed25519 key: in the keyset (not signing yet, unless it is the first)
                                   # and in the JWKS
    python -m infra.keys activate KID   # sign with KID from now on (it must be in the JWKS already)
    python -m infra.keys retire KID     # drop a key that no longer signs from the keyset and the JWKS

The rotation (docs/decisions/0013): `add`, then wait until every verifier has re-read the JWKS (the
authorizer and the step-up check re-read it every 5 minutes, and at once on an unknown kid); `activate`
the new kid; wait until no token signed with the old key can still be alive (the access-token lifetime, 15
minutes, plus the 5 minutes signing functions may keep the old keyset); `retire` the old kid. Two keys are
in the JWKS during the whole rotation, so every live token verifies at every step. The SecureString never
leaves SSM except into this process; nothing is printed but kids.

Uses the ambient AWS credentials and region (or --endpoint-url, as the tests do against moto).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from infra import centers

DEFAULT_PRIVATE, DEFAULT_PUBLIC = "/bank/jwt/signing-keys", "/bank/jwt/jwks"


class KeyError_(Exception):
    """A rotation step that would break live tokens (refused)."""


class Keys:
    def __init__(self, ssm: Any, private_param: str = DEFAULT_PRIVATE, public_param: str = DEFAULT_PUBLIC) -> None:
        centers.ensure_paths()
        self.ssm, self.private_param, self.public_param = ssm, private_param, public_param

    def _keyset(self) -> dict[str, Any]:
        try:
            raw = self.ssm.get_parameter(Name=self.private_param, WithDecryption=True)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return {"active": "", "keys": {}}  # a first deploy: `add` makes the first key
        from bank_common import tokens

        if raw.strip().startswith("-----BEGIN"):  # a single PEM: a keyset of one
            return json.loads(tokens.keyset_document([raw]))
        return dict(json.loads(raw))

    def _jwks(self) -> dict[str, Any]:
        try:
            raw = self.ssm.get_parameter(Name=self.public_param)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return {"keys": []}
        from bank_common import tokens

        return {"keys": [tokens.public_jwk(key) for key in tokens.parse_jwks(raw).values()]}

    def _save(self, keyset: dict[str, Any] | None = None, jwks: dict[str, Any] | None = None) -> None:
        # The JWKS is written before the keyset, so a verifier never lacks the key a signer uses.
        if jwks is not None:
            self.ssm.put_parameter(Name=self.public_param, Value=json.dumps(jwks, sort_keys=True), Type="String",
                                   Overwrite=True)
        if keyset is not None:
            self.ssm.put_parameter(Name=self.private_param, Value=json.dumps(keyset, sort_keys=True),
                                   Type="SecureString", Overwrite=True)

    def show(self) -> dict[str, Any]:
        keyset, jwks = self._keyset(), self._jwks()
        return {"active": keyset["active"], "signing_keys": sorted(keyset["keys"]),
                "published": sorted(k["kid"] for k in jwks["keys"])}

    def add(self) -> str:
        from bank_common import tokens

        private, _ = tokens.generate_keypair()
        kid = tokens.parse_keyset(private).active
        keyset, jwks = self._keyset(), self._jwks()
        jwks["keys"] = [k for k in jwks["keys"] if k["kid"] != kid] + [
            tokens.public_jwk(tokens.parse_keyset(private).keys[kid].public_key())]
        self._save(jwks=jwks)
        keyset["keys"][kid] = private
        keyset["active"] = keyset["active"] or kid  # the first key signs at once: nothing else can
        self._save(keyset=keyset)
        return kid

    def activate(self, kid: str) -> None:
        keyset, jwks = self._keyset(), self._jwks()
        if kid not in keyset["keys"]:
            raise KeyError_(f"{kid} is not in the keyset: `add` a key first")
        if kid not in {k["kid"] for k in jwks["keys"]}:
            raise KeyError_(f"{kid} is not published in the JWKS: tokens it signs would not verify")
        keyset["active"] = kid
        self._save(keyset=keyset)

    def retire(self, kid: str) -> None:
        keyset, jwks = self._keyset(), self._jwks()
        if keyset["active"] == kid:
            raise KeyError_(f"{kid} still signs: activate another key first")
        keyset["keys"].pop(kid, None)
        self._save(keyset=keyset)  # stop anyone signing with it before it stops verifying
        jwks["keys"] = [k for k in jwks["keys"] if k["kid"] != kid]
        self._save(jwks=jwks)


def main(argv: list[str] | None = None, out: Callable[[str], None] = print,
         ssm_factory: Callable[[str | None], Any] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.keys", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=["show", "add", "activate", "retire"])
    parser.add_argument("kid", nargs="?")
    parser.add_argument("--private", default=DEFAULT_PRIVATE, help="the keyset's SecureString parameter")
    parser.add_argument("--public", default=DEFAULT_PUBLIC, help="the JWKS String parameter")
    parser.add_argument("--endpoint-url", default=None)
    args = parser.parse_args(argv)

    def default_factory(endpoint: str | None) -> Any:
        import boto3

        return boto3.client("ssm", endpoint_url=endpoint)

    keys = Keys((ssm_factory or default_factory)(args.endpoint_url), args.private, args.public)
    try:
        if args.command == "show":
            out(json.dumps(keys.show(), indent=2))
        elif args.command == "add":
            out(keys.add())
        elif not args.kid:
            parser.error(f"{args.command} needs a KID")
        elif args.command == "activate":
            keys.activate(args.kid)
            out(f"{args.kid} signs from now on")
        else:
            keys.retire(args.kid)
            out(f"{args.kid} retired")
    except KeyError_ as exc:
        out(f"refused: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
