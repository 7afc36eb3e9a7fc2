"""Rotate a stage's token keys: `python infra/rotate_keys.py dev [--retire]`.

Without --retire: a new key goes first in the set and signs every token from then on; the older
keys stay and keep verifying the tokens they signed (invite links, the deploy's admin token).
With --retire: every key but the newest is dropped, and tokens they signed stop working; do it
once those have expired or should (a leaked key: rotate, then retire at once).

Running functions re-read the set within signing_keys.CACHE_SECONDS, and at once (at most every
REFETCH_SECONDS) when a token names a key they have not seen.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib import signing_keys  # noqa: E402
from infra.deploy import stack_outputs  # noqa: E402


def rotated(keys: list[str], retire: bool) -> list[str]:
    return keys[:1] if retire else [signing_keys.new_key(), *keys]


def main(argv=None) -> None:
    import boto3

    parser = argparse.ArgumentParser(description="Rotate the token keys of one stage.")
    parser.add_argument("stage")
    parser.add_argument("--app", default="cloud-annotator")
    parser.add_argument("--region", default=None, help="AWS region (default: your AWS config)")
    parser.add_argument("--retire", action="store_true",
                        help="drop every key but the newest (their tokens stop working)")
    args = parser.parse_args(argv)
    session = boto3.Session(region_name=args.region)
    outputs = stack_outputs(session.client("cloudformation"), f"{args.app}-{args.stage}")
    if outputs is None:
        sys.exit(f"No stack {args.app}-{args.stage}: deploy it first.")
    ssm, name = session.client("ssm"), outputs["KeysParameter"]
    keys = signing_keys.parse_key_set(
        ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    keys = rotated(keys, args.retire)
    ssm.put_parameter(Name=name, Value=signing_keys.dump_key_set(keys), Type="SecureString",
                      Overwrite=True)
    print(f"{name}: {len(keys)} key(s), signing with {signing_keys.kid(keys[0])}: "
          + ", ".join(signing_keys.kid(k) for k in keys))


if __name__ == "__main__":
    main()
