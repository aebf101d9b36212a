"""The secret detector, shared by the gates, the diff, the release record and every error message.

``detect(value, key)`` says whether a string looks like a secret and what kind: a provider's token
format (AWS, GitHub, GitLab, Slack, Google, Stripe, JWT, PEM private keys), a URL that carries a
password, a literal under a secret-like key name (``DB_PASS``, ``privateKeyPem``, ``dsn``), or a
random-looking token (entropy). ``redact`` replaces a secret by its length and a keyed hash whose
key is drawn once per process, so two sides of one diff compare and nothing can be looked up
offline; ``mask_secret`` redacts a Secret's data (Secrets inside a List too) and ``scrub`` every
flagged string of a tree. ``excerpt`` and ``safe_key`` are how any message shows a value or a key:
short, and never when it looks like a secret. The module has no keelson imports, so every layer
(even YAML reading) can use it. ``scripts/bench_secrets.py`` measures recall per kind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Provider formats, from the providers' documentation of their token prefixes and lengths.
PROVIDER_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "aws-access-key-id": re.compile(
        r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA|A3T[A-Z0-9])"
        r"[A-Z0-9]{16}(?![A-Z0-9])"
    ),
    "github-token": re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_\w{22,255})"),
    "gitlab-token": re.compile(r"(?<![A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}"),
    "slack-token": re.compile(r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9-]{10,}"),
    "slack-webhook": re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[\w/+-]{20,}"),
    "google-api-key": re.compile(r"(?<![A-Za-z0-9])AIza[\w-]{35}"),
    "stripe-key": re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"),
    "jwt": re.compile(r"(?<![\w-])eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*"),
    "private-key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
}
# AWS secret access keys have no prefix: 40 characters of base64, random enough (checked below).
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
AWS_SECRET_MIN_BITS = 4.1  # random 40-character base64 scores 4.4 and up; 40 hex digits at most 4.0
_URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']*:(?P<password>[^/\s@\"']+)@")

# Longest first: the word that ends last in a key decides what the rest of the key means.
SECRET_WORDS = (
    "secretaccesskey",
    "connectionstring",
    "secretkeybase",
    "encryptionkey",
    "clientsecret",
    "authorization",
    "privatekey",
    "signingkey",
    "sessionkey",
    "masterkey",
    "secretkey",
    "accesstoken",
    "authtoken",
    "apitoken",
    "apikey",
    "passphrase",
    "password",
    "passwd",
    "credentials",
    "credential",
    "secret",
    "token",
    "bearer",
    "pass",
    "pwd",
    "dsn",
)
# What may follow the secret word for the key to still hold the secret itself (db_password, API_KEY,
# privateKeyPem); anything else (secretName, passwordKey, tokenFile, secretKeyRef, tokenTTL) names
# or describes the secret instead.
_LITERAL_SUFFIXES = frozenset(
    {"", "s", "value", "literal", "plain", "plaintext", "pem", "b64", "base64", "raw", "string", "str"}
)
# Words that end in a secret word and mean something else.
_INNOCENT_WORDS = ("bypass", "compass", "surpass", "trespass", "overpass", "underpass")
_REFERENCE = re.compile(
    r"""^(\$\{[^}]+\}|\$\([A-Za-z_][A-Za-z0-9_]*\)|\$[A-Za-z_][A-Za-z0-9_]*|(sys\.)?env\(.*\)|\{\{.*\}\}"""
    r"""|/\S*|file:\S+)$"""
)
_NOT_SECRET = re.compile(
    r"^(true|false|yes|no|on|off|null|none|~|-?\d+(\.\d+)?[a-zA-Z%]{0,3})$", re.IGNORECASE
)
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_TEMPLATE = re.compile(r"\{\{.*?\}\}")  # tpl-rendered values: {{ .Release.Name }}
_PATH_PART = re.compile(r"[a-z0-9._-]{0,3}|[a-z]+[0-9]*|[0-9]+")  # random base64 parts have capitals
_TOKEN = re.compile(r"[A-Za-z0-9+/=]{20,}")
_HEX = re.compile(r"^[0-9a-f]+$|^[0-9A-F]+$")
# Keys whose values are digests or identifiers by design (a checksum annotation, an image digest).
_HASH_KEYS = re.compile(r"checksum|sha|digest|hash|commit|fingerprint|etag|uid", re.IGNORECASE)
_LINE = re.compile(
    r"""^\s*(?:export\s+)?["']?(?P<key>[A-Za-z0-9_.-]+)["']?\s*[:=]\s*(?P<value>.+?)\s*,?\s*$"""
)
# Bits per character, calibrated on generated tokens (scripts/bench_secrets.py): random base62 or
# base64 tokens of 24+ characters score 3.9 and up; random hex of 32+ characters 3.25 and up (at
# most 4.0). Identifiers such as PodDisruptionBudget2024Config score as high, so a token must also
# not read like words: random 24-character tokens keep under 60 % of their characters in runs of
# four or more same-case letters 99.4 % of the time (99.9 % at 40), while camelCase names and
# config keys reach 65 % or more. Names of short words (LokiAppDisruptionBudget2,
# LokiV13SchemaConfigTsdbIndex24h) are told by their vowels instead: 28 % or more of their letters,
# against 19 % in random text. Recall on random tokens: 98.9 % at 24 characters, 99.7 % at 32.
ENTROPY_THRESHOLD = 3.6
HEX_ENTROPY_THRESHOLD = 3.2
HEX_MIN_LENGTH = 32
MAX_WORDINESS = 0.6
MIN_WORD_VOWELS = 0.28
EXCERPT_LIMIT = 48  # the longest value a message may quote

_REDACTED = re.compile(r"<redacted: \d+ bytes, hmac [0-9a-f]{12}>")
# Drawn once per process: both sides of a diff share it, and it never leaves the process.
_RUN_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class Detection:
    """What was found, said without the value: ``kind`` names the class, ``detail`` describes it."""

    kind: str  # a provider pattern's name, "aws-secret-key", "url-credentials", "secret-key-name", "entropy"
    detail: str


def shannon(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def wordiness(token: str, run: int = 4) -> float:
    """The share of characters in runs of ``run`` or more same-case letters (words, not noise)."""
    pattern = f"[a-z]{{{run},}}|[A-Z]{{{run},}}"
    return sum(len(found) for found in re.findall(pattern, token)) / len(token)


def reads_like_words(token: str) -> bool:
    """Long same-case runs, or shorter ones rich in vowels: a name made of words, not noise."""
    if wordiness(token) >= MAX_WORDINESS:
        return True
    letters = [char for char in token if char.isalpha()]
    vowels = sum(char in "aeiouAEIOU" for char in letters) / max(1, len(letters))
    return wordiness(token, 3) >= MAX_WORDINESS and vowels >= MIN_WORD_VOWELS


def secret_key(name: str) -> bool:
    """Whether a key (an env name, a config key, an annotation) names a secret itself."""
    norm = re.sub(r"[^a-z0-9]", "", name.rsplit("/", 1)[-1].lower())
    if norm.startswith("existing") or norm.endswith(_INNOCENT_WORDS):
        return False
    # <secret word>Key names the key inside a Secret (passwordKey, clientSecretKey, tokenKey); only
    # secretKey and apiKey, where "key" is part of the word, hold the secret itself.
    stem = norm.removesuffix("key")
    if stem != norm and any(stem.endswith(word) for word in SECRET_WORDS if not word.endswith("key")):
        return False
    # <secret word>Secret names the Secret that holds it (passwordSecret, tokenSecret).
    stem = norm.removesuffix("secret")
    if stem != norm and any(stem.endswith(word) for word in SECRET_WORDS):
        return False
    ends = [norm.rfind(word) + len(word) for word in SECRET_WORDS if word in norm]
    return bool(ends) and norm[max(ends) :] in _LITERAL_SUFFIXES


def literal(value: Any) -> bool:
    """A string that could be a secret: not empty, a flag, a number, a reference or a path."""
    if not isinstance(value, str):
        return False
    text = value.strip().strip("\"'")
    return bool(text) and not _NOT_SECRET.match(text) and not _REFERENCE.match(text)


def high_entropy(value: str, key: str = "") -> list[tuple[int, float]]:
    """(length, bits per character) of each token of ``value`` that looks like a random secret."""
    text = _DIGEST.sub(" ", _URL.sub(" ", _TEMPLATE.sub(" ", value)))
    found = []
    for token in _TOKEN.findall(text):
        if not (re.search(r"\d", token) and re.search(r"[A-Za-z]", token)):
            continue  # random 20+ characters almost always mix digits and letters
        if "/" in token and all(_PATH_PART.fullmatch(part) for part in token.split("/")):
            continue  # a path such as 3100/loki/api/v1/push
        if re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)+", token):
            continue  # a lower-case name such as keelson-app-backend-2024-v1
        bits = shannon(token)
        if _HEX.match(token):
            if len(token) >= HEX_MIN_LENGTH and bits >= HEX_ENTROPY_THRESHOLD and not _HASH_KEYS.search(key):
                found.append((len(token), bits))
        elif bits >= ENTROPY_THRESHOLD and not reads_like_words(token):
            found.append((len(token), bits))
    return found


def _aws_secret(value: str) -> bool:
    for match in _AWS_SECRET.finditer(value):
        token = match.group()
        classes = sum(bool(re.search(p, token)) for p in (r"[A-Z]", r"[a-z]", r"[0-9/+]"))
        if classes == 3 and shannon(token) >= AWS_SECRET_MIN_BITS and not _PATH_PART.fullmatch(token):
            return True
    return False


def _provider(value: str, key: str) -> Detection | None:
    for kind, pattern in PROVIDER_PATTERNS.items():
        if pattern.search(value):
            return Detection(kind, f"matches the {kind} format")
    if _aws_secret(value):
        return Detection("aws-secret-key", "looks like an AWS secret access key")
    return None


def _credentials(value: str, key: str) -> Detection | None:
    found = _URL_CREDENTIALS.search(value)
    if found and literal(found.group("password")):
        return Detection("url-credentials", "a URL carries a password")
    return None


def _named(value: str, key: str) -> Detection | None:
    if key and secret_key(key) and literal(value):
        return Detection("secret-key-name", f'"{safe_key(key)}" holds a literal value')
    lines = value.splitlines() if "\n" in value else ()
    for match in filter(None, map(_LINE.match, lines)):
        if secret_key(match.group("key")) and literal(match.group("value")):
            return Detection(
                "secret-key-name", f'a line sets "{safe_key(match.group("key"))}" to a literal value'
            )
    return None


def _random(value: str, key: str) -> Detection | None:
    for length, bits in high_entropy(value, key)[:1]:
        return Detection(
            "entropy", f"a {length}-character token with {bits:.1f} bits/character looks like a secret"
        )
    return None


_CHECKS = (_provider, _credentials, _named, _random)


def detect(value: Any, key: str = "") -> Detection | None:
    """The first sign that ``value`` (found under ``key``) is a secret, or None."""
    if not isinstance(value, str) or not value or _REDACTED.fullmatch(value):
        return None  # nothing, or what redact() already made of a secret
    return next((found for check in _CHECKS if (found := check(value, key)) is not None), None)


def scan(
    node: Any, path: tuple[str | int, ...] = (), key: str = ""
) -> Iterator[tuple[tuple[str | int, ...], Detection]]:
    """Every string in a tree of mappings and lists that looks like a secret, with its path.

    Keys count too: a mapping keyed by tokens hides its secrets in the keys.
    """
    if isinstance(node, Mapping):
        for child_key, child in node.items():
            name = str(child_key)
            found = detect(name)
            if found is not None:
                yield (*path, name), Detection(found.kind, f"the key itself: {found.detail}")
            yield from scan(child, (*path, name), name)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from scan(child, (*path, index), key)
    else:
        found = detect(node, key)
        if found is not None:
            yield path, found


def redact(value: bytes | str) -> str:
    """``<redacted: N bytes, hmac 0123456789ab>``: equal values look equal within one run only."""
    data = value.encode() if isinstance(value, str) else value
    tag = hmac.new(_RUN_KEY, data, hashlib.sha256).hexdigest()[:12]
    return f"<redacted: {len(data)} bytes, hmac {tag}>"


def _scrub_line(line: str, key: str) -> str:
    pair = _LINE.match(line)
    if pair and detect(pair.group("value"), pair.group("key")) is not None:
        start, end = pair.span("value")
        return line[:start] + redact(pair.group("value")) + line[end:]
    return redact(line) if detect(line, key) is not None else line


def scrub(node: Any, key: str = "") -> Any:
    """A copy of ``node`` with every secret-shaped string redacted; a multi-line string (a config
    file) line by line, so the lines around a secret still show."""
    if isinstance(node, Mapping):
        return {name: scrub(child, str(name)) for name, child in node.items()}
    if isinstance(node, list):
        return [scrub(child, key) for child in node]
    if not isinstance(node, str) or detect(node, key) is None:
        return node
    if "\n" not in node:
        return redact(node)
    return "\n".join(_scrub_line(line, key) for line in node.split("\n"))


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _secret_bytes(value: Any, encoded: bool) -> bytes:
    text = value if isinstance(value, str) else json.dumps(value)
    if encoded:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: measure what is there
    return text.encode()


def mask_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret with every value of ``data`` and ``stringData`` redacted, a List with its Secrets
    redacted (other objects unchanged)."""
    items = obj.get("items")
    if str(obj.get("kind", "")).endswith("List") and isinstance(items, list):
        return {**obj, "items": [mask_secret(item) if isinstance(item, dict) else item for item in items]}
    if obj.get("kind") != "Secret":
        return obj
    masked = dict(obj)
    for name, encoded in (("data", True), ("stringData", False)):
        block = obj.get(name)
        if isinstance(block, dict):
            masked[name] = {key: redact(_secret_bytes(value, encoded)) for key, value in block.items()}
        elif block is not None:
            masked[name] = redact(_secret_bytes(block, False))
    annotations = (obj.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        # kubectl keeps the whole object, values included, in this annotation.
        meta = dict(obj["metadata"])
        meta["annotations"] = {**annotations, LAST_APPLIED: redact(str(annotations[LAST_APPLIED]).encode())}
        masked["metadata"] = meta
    return masked


def excerpt(value: Any, key: str = "", limit: int = EXCERPT_LIMIT) -> str:
    """A value as a message may show it: JSON, when short, on one line and not secret-shaped;
    otherwise what it is (``a string of 412 characters``), never its text."""
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return f"a mapping of {len(value)} keys"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    text = str(value)
    if len(text) > limit or not text.isprintable() or detect(text, key) is not None:
        return f"a string of {len(text)} characters (not shown)"
    return json.dumps(text)


_HEX_WORD = re.compile(r"(?:sha256:)?[0-9a-f]+")
_WORD_EDGES = "\"'()[],;:."


def quiet(message: str) -> str:
    """The last guard on output: every secret-shaped word of a message becomes ``<redacted>``.

    Hex words stay: they are the commits and digests the tools print on purpose.
    """

    def word(found: re.Match[str]) -> str:
        text = found.group().strip(_WORD_EDGES)
        if not text or _HEX_WORD.fullmatch(text) or detect(text) is None:
            return found.group()
        return found.group().replace(text, "<redacted>")

    return re.sub(r"\S+", word, message)


def safe_key(key: str, limit: int = 64) -> str:
    """A key as a path may show it, or ``<key of N characters>`` when it is long or secret-shaped."""
    if len(key) > limit or not key.isprintable() or detect(key) is not None:
        return f"<key of {len(key)} characters>"
    return key
