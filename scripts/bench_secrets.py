"""Recall and false positives of the secret detector (keelson.secretscan), per kind of secret.

    .venv/bin/python scripts/bench_secrets.py [--samples 1000] [--seed 7] [--no-renders]
    (or: invoke bench --secrets)

Samples are generated here, from a seeded random source, in each provider's documented format:
nothing secret-shaped is written in this file or anywhere in the repository, so no scanner flags
it (the prefixes are assembled from parts at run time). Each sample sits under an innocent key
(``NOTE``), half of them alone and half inside a sentence, since that is where the gates must find
them. False positives are counted on generated innocent strings (names, image references, digests,
PromQL, paths, Secret references) and on the project's own render of every environment and its
values. tests/test_secretscan_corpus.py asserts the same figures (recall >= 99 % per kind).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from keelson import secretscan

Generator = Callable[[random.Random], tuple[str, str]]  # (key, value)
BASE62 = string.ascii_letters + string.digits
BASE64 = BASE62 + "+/"
URLSAFE = BASE62 + "-_"
UPPER32 = string.ascii_uppercase + "234567"


def _chars(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _in_context(rng: random.Random, token: str) -> str:
    """The token alone, or inside the kind of note a person leaves in a config value."""
    templates = ("{}", "{}", "key={} (rotate monthly)", "use {} for the staging account", "'{}'")
    return rng.choice(templates).format(token)


def aws_access_key_id(rng: random.Random) -> tuple[str, str]:
    prefix = rng.choice(["AK" + "IA", "AS" + "IA", "AR" + "OA", "AI" + "DA", "AN" + "PA", "AG" + "PA"])
    return "NOTE", _in_context(rng, prefix + _chars(rng, UPPER32, 16))


def aws_secret_key(rng: random.Random) -> tuple[str, str]:
    return "NOTE", _in_context(rng, _chars(rng, BASE64, 40))


def github_token(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.2:
        token = "github" + "_pat_" + _chars(rng, BASE62, 22) + "_" + _chars(rng, BASE62, 59)
    else:
        token = "gh" + rng.choice("pousr") + "_" + _chars(rng, BASE62, 36)
    return "NOTE", _in_context(rng, token)


def gitlab_token(rng: random.Random) -> tuple[str, str]:
    return "NOTE", _in_context(rng, "glp" + "at-" + _chars(rng, URLSAFE, 20))


def slack_token(rng: random.Random) -> tuple[str, str]:
    digits = string.digits
    token = (
        "xo" + "x" + rng.choice("abprs") + "-" + _chars(rng, digits, rng.randint(10, 13)) + "-"
        f"{_chars(rng, digits, rng.randint(10, 13))}-{_chars(rng, BASE62, 24)}"
    )
    return "NOTE", _in_context(rng, token)


def slack_webhook(rng: random.Random) -> tuple[str, str]:
    upper = string.ascii_uppercase + string.digits
    path = f"T{_chars(rng, upper, 10)}/B{_chars(rng, upper, 10)}/{_chars(rng, BASE62, 24)}"
    return "NOTE", _in_context(rng, "https://hooks." + "slack.com/services/" + path)


def google_api_key(rng: random.Random) -> tuple[str, str]:
    return "NOTE", _in_context(rng, "AI" + "za" + _chars(rng, URLSAFE, 35))


def stripe_key(rng: random.Random) -> tuple[str, str]:
    token = rng.choice(["sk", "rk"]) + "_" + rng.choice(["live", "test"]) + "_" + _chars(rng, BASE62, 24)
    return "NOTE", _in_context(rng, token)


def jwt(rng: random.Random) -> tuple[str, str]:
    header = _b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {"sub": _chars(rng, string.digits, 8), "iat": rng.randint(1_600_000_000, 1_800_000_000)}
    payload = _b64url(json.dumps(claims).encode())
    signature = _b64url(rng.randbytes(32))
    return "NOTE", _in_context(rng, f"{header}.{payload}.{signature}")


def private_key(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "])
    body = "\n".join(_chars(rng, BASE64, 64) for _ in range(rng.randint(3, 8)))
    dashes = "-" * 5
    return "NOTE", f"{dashes}BEGIN {kind}PRIVATE KEY{dashes}\n{body}\n{dashes}END {kind}PRIVATE KEY{dashes}\n"


def _password(rng: random.Random) -> str:
    words = ["summer", "tiger", "orange", "castle", "river", "falcon", "maple", "rocket"]
    return rng.choice(words).capitalize() + str(rng.randint(10, 9999)) + rng.choice("!#%*.")


def url_credentials(rng: random.Random) -> tuple[str, str]:
    scheme = rng.choice(["postgres", "mysql", "redis", "amqp", "https", "mongodb+srv"])
    host = rng.choice(["db.internal", "10.0.3.7:5432", "cache.example.com", "mq"])
    return "NOTE", f"{scheme}://{rng.choice(['app', 'admin', 'svc_user'])}:{_password(rng)}@{host}/main"


SECRET_NAMES = (
    "DB_PASS", "pwd", "SECRET_KEY_BASE", "privateKeyPem", "dsn", "token", "apikey", "api_key",
    "credential", "credentials", "password", "adminPassword", "clientSecret", "AUTH_TOKEN",
    "smtp.password", "redisPasswd", "passphrase", "accessToken", "sentryDsn", "ENCRYPTION_KEY",
    "signing-key", "SESSION_SECRET", "bearer", "secret", "REDIS_PASS", "ldapBindPassword",
)  # fmt: skip


def secret_key_name(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(SECRET_NAMES)
    return name, rng.choice([_password(rng), _chars(rng, string.ascii_lowercase, 8), "changeme"])


def entropy(rng: random.Random) -> tuple[str, str]:
    """A token of no known format: 24 to 64 characters of base62, or 32 to 64 hex digits."""
    if rng.random() < 0.25:
        return "NOTE", _in_context(rng, _chars(rng, "0123456789abcdef", rng.randint(32, 64)))
    return "NOTE", _in_context(rng, _chars(rng, BASE62, rng.randint(24, 64)))


KINDS: dict[str, Generator] = {
    "aws-access-key-id": aws_access_key_id,
    "aws-secret-key": aws_secret_key,
    "github-token": github_token,
    "gitlab-token": gitlab_token,
    "slack-token": slack_token,
    "slack-webhook": slack_webhook,
    "google-api-key": google_api_key,
    "stripe-key": stripe_key,
    "jwt": jwt,
    "private-key": private_key,
    "url-credentials": url_credentials,
    "secret-key-name": secret_key_name,
    "entropy": entropy,
}

REFERENCE_NAMES = (
    "passwordKey", "existingSecret", "secretName", "tokenFile", "secretKeyRef", "passwordSecret",
    "tokenTTL", "secretRef", "passwordFile", "credentialsFile", "clientSecretKey", "tokenPath",
    "existingSecretPasswordKey", "bypass", "passwordMinLength",
)  # fmt: skip


def innocent(rng: random.Random) -> tuple[str, str]:
    """Strings a chart holds by the hundred: names, references, images, digests, queries, paths."""

    def word() -> str:
        return rng.choice(["keelson", "app", "backend", "loki", "tempo", "grafana", "alloy"])

    choices: list[Callable[[], tuple[str, str]]] = [
        lambda: (rng.choice(REFERENCE_NAMES), f"{word()}-{word()}-credentials"),
        lambda: (
            "image",
            f"docker.io/grafana/{word()}:{rng.randint(1, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        ),
        lambda: ("image", f"ghcr.io/keelson/{word()}@sha256:{rng.randbytes(32).hex()}"),
        lambda: ("checksum/config", rng.randbytes(32).hex()),
        lambda: (
            "expr",
            f'sum(rate({word()}_request_duration_seconds_bucket{{job="{word()}"}}[5m])) by (le)',
        ),
        lambda: ("host", f"{word()}-{rng.randint(1, 99)}.{word()}.svc.cluster.local"),
        lambda: ("path", f"/var/lib/{word()}/{word()}/{rng.randint(1, 9)}"),
        lambda: ("uid", f"{word()}-{rng.randbytes(4).hex()}"),
        lambda: ("issuerUrl", f"https://auth.example.com/realms/{word()}"),
        lambda: ("name", f"{word().capitalize()}{word().capitalize()}DisruptionBudget{rng.randint(1, 9)}"),
    ]
    return rng.choice(choices)()


def recall(kind: str, count: int, seed: int) -> tuple[int, list[str]]:
    """How many of ``count`` generated samples of ``kind`` are detected; and kinds of the misses' keys."""
    rng = random.Random(f"{seed}-{kind}")
    missed = []
    for _ in range(count):
        key, value = KINDS[kind](rng)
        if secretscan.detect(value, key) is None:
            missed.append(key)
    return count - len(missed), missed


def innocent_hits(count: int, seed: int) -> dict[str, int]:
    """Detections (by kind) among ``count`` generated innocent strings: each is a false positive."""
    rng = random.Random(f"{seed}-innocent")
    hits: dict[str, int] = {}
    for _ in range(count):
        key, value = innocent(rng)
        found = secretscan.detect(value, key)
        if found is not None:
            hits[found.kind] = hits.get(found.kind, 0) + 1
    return hits


def render_hits() -> Iterator[tuple[str, str, str]]:
    """(env, where, kind) of every detection in the project's render and values of every env."""
    from keelson import values  # noqa: PLC0415 (only this part needs helm)
    from keelson.project import ENVS, OPTIONAL_APIS, project  # noqa: PLC0415
    from keelson.render import render  # noqa: PLC0415

    prj = project()
    for env in ENVS:
        loaded = values.load(env, (), prj)
        trees: list[tuple[str, Any]] = [("values", loaded.merged)]
        trees += [
            (f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}", obj)
            for obj in render(loaded.user, prj=prj, api_versions=OPTIONAL_APIS)
        ]
        for where, tree in trees:
            for path, found in secretscan.scan(tree):
                yield env, f"{where} {'.'.join(map(str, path))}", found.kind


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="samples per kind (default 1000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-renders", action="store_true", help="skip the project's renders (needs helm)")
    args = parser.parse_args(argv)
    print(f"{'kind':<20} {'recall':>14}")
    for kind in KINDS:
        found, _ = recall(kind, args.samples, args.seed)
        print(f"{kind:<20} {found:>5}/{args.samples:<5} {100 * found / args.samples:6.2f} %")
    hits = innocent_hits(args.samples * 10, args.seed)
    print(f"false positives on {args.samples * 10} generated innocent strings: {sum(hits.values())}")
    for kind, n in sorted(hits.items()):
        print(f"  {kind:<20} {n}")
    if not args.no_renders:
        found_in_renders = list(render_hits())
        where = "the project's renders and values (dev, staging, prod)"
        print(f"false positives on {where}: {len(found_in_renders)}")
        for env, where, kind in found_in_renders:
            print(f"  {env:<8} {kind:<20} {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
