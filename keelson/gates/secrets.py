"""Secrets: no secret values in ConfigMaps, env literals, args, annotations or values files.

Two independent signals, each with a precise finding (object and key path, never the value):
a secret-looking key name holding a literal (KEEL040), and a high-entropy token (KEEL041).
References are fine: ``existingSecret``, ``secretName``, ``secretKeyRef``, ``passwordFile``,
``${ENV_VAR}`` / ``sys.env("X")`` expansions and file paths.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keelson.gates.engine import Context, Hit, rule
from keelson.gates.index import embedded_config
from keelson.gates.k8s import ObjectRef, Workload, annotations_of, key_path

if TYPE_CHECKING:
    from keelson.models import Object

# Longest first: the word that ends last in a key decides what the rest of the key means.
SECRET_WORDS = (
    "secretaccesskey",
    "clientsecret",
    "privatekey",
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
)
# What may follow the secret word for the key to still hold the secret itself (db_password, API_KEY,
# secrets); anything else (secretName, passwordKey, tokenFile, secretKeyRef, tokenTTL) names or
# describes the secret instead.
_LITERAL_SUFFIXES = frozenset({"", "s", "value", "literal", "plain", "plaintext"})
_REFERENCE = re.compile(
    r"""^(\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|(sys\.)?env\(.*\)|\{\{.*\}\}|/\S*|file:\S+)$"""
)
_NOT_SECRET = re.compile(
    r"^(true|false|yes|no|on|off|null|none|~|-?\d+(\.\d+)?[a-zA-Z%]{0,3})$", re.IGNORECASE
)
_URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:(?P<password>[^/\s@\"']+)@")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_TEMPLATE = re.compile(r"\{\{.*?\}\}")  # tpl-rendered values: {{ .Release.Name }}
_PATH_PART = re.compile(r"[a-z0-9._-]{0,3}|[a-z]+[0-9]*|[0-9]+")  # random base64 parts have capitals
_TOKEN = re.compile(r"[A-Za-z0-9+/=]{20,}")
_HEX = re.compile(r"^[0-9a-f]+$|^[0-9A-F]+$")
# Keys whose values are digests or identifiers by design (a checksum annotation, an image digest).
_HASH_KEYS = re.compile(r"checksum|sha|digest|hash|commit|fingerprint|etag|uid", re.IGNORECASE)
# Bits per character. Random base62/base64 tokens of 20+ characters score 3.8 and up (median 4.0 at
# 20, 4.6 at 32); random hex of 32+ characters scores 3.25 and up (at most 4.0). Identifiers such as
# PodDisruptionBudget2024Config score as high, so a token must also not read like words: random
# tokens keep under 55 % of their characters in runs of three or more same-case letters (about
# 95 % of 20-character ones, more of longer ones), camelCase names and config keys reach 65 % or more.
ENTROPY_THRESHOLD = 3.6
HEX_ENTROPY_THRESHOLD = 3.2
HEX_MIN_LENGTH = 32
MAX_WORDINESS = 0.55
VALUES = ObjectRef("Values", "", "")


def secret_key(name: str) -> bool:
    """Whether a key (an env name, a config key, an annotation) names a secret itself."""
    norm = re.sub(r"[^a-z0-9]", "", name.rsplit("/", 1)[-1].lower())
    if norm.startswith("existing"):
        return False
    # <secret word>Key names the key inside a Secret (passwordKey, clientSecretKey, tokenKey); only
    # secretKey and apiKey, where "key" is part of the word, hold the secret itself.
    stem = norm.removesuffix("key")
    if stem != norm and any(stem.endswith(word) for word in SECRET_WORDS if word != "secret"):
        return False
    ends = [(norm.rfind(word) + len(word), len(word)) for word in SECRET_WORDS if word in norm]
    if not ends:
        return False
    end, _ = max(ends)
    return norm[end:] in _LITERAL_SUFFIXES


def literal(value: Any) -> bool:
    """A string that could be a secret: not empty, a flag, a number, a reference or a path."""
    if not isinstance(value, str):
        return False
    text = value.strip().strip("\"'")
    return bool(text) and not _NOT_SECRET.match(text) and not _REFERENCE.match(text)


def shannon(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def wordiness(token: str) -> float:
    """The share of characters in runs of three or more same-case letters (words, not noise)."""
    return sum(len(run) for run in re.findall(r"[a-z]{3,}|[A-Z]{3,}", token)) / len(token)


def high_entropy(value: str, key: str = "") -> list[tuple[int, float]]:
    """(length, bits per character) of each token of ``value`` that looks like a random secret."""
    text = _DIGEST.sub(" ", _URL.sub(" ", _TEMPLATE.sub(" ", value)))
    found = []
    for token in _TOKEN.findall(text):
        if not (re.search(r"\d", token) and re.search(r"[A-Za-z]", token)):
            continue  # random 20+ characters almost always mix digits and letters
        if "/" in token and all(_PATH_PART.fullmatch(part) for part in token.split("/")):
            continue  # a path such as 3100/loki/api/v1/push
        bits = shannon(token)
        if _HEX.match(token):
            if len(token) >= HEX_MIN_LENGTH and bits >= HEX_ENTROPY_THRESHOLD and not _HASH_KEYS.search(key):
                found.append((len(token), bits))
        elif bits >= ENTROPY_THRESHOLD and wordiness(token) < MAX_WORDINESS:
            found.append((len(token), bits))
    return found


@dataclass(frozen=True)
class Leaf:
    """A string somewhere in the render or the values: whose, where, under which key."""

    subject: ObjectRef
    path: str
    key: str
    value: str
    named: bool = True  # the key is a name chosen by a person (not a file name or a generated hash)


def _walk(
    node: Any, path: tuple[str | int, ...], key: str
) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    if isinstance(node, Mapping):
        for child_key, child in node.items():
            yield from _walk(child, (*path, str(child_key)), str(child_key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(child, (*path, index), key)
    else:
        yield path, key, node


_FLAG = re.compile(r"^--?(?P<key>[A-Za-z0-9_.-]+)=(?P<value>.*)$")
_LINE = re.compile(r"""^\s*["']?(?P<key>[A-Za-z0-9_.-]+)["']?\s*[:=]\s*(?P<value>.+?)\s*,?\s*$""")


def _embedded(subject: ObjectRef, base: tuple[str | int, ...], text: str) -> Iterator[Leaf]:
    """A config file inside a ConfigMap: its YAML/JSON leaves, else `key = value` / `key: value` lines."""
    parsed = embedded_config(text) if "\n" in text or text.lstrip().startswith(("{", "[")) else None
    if isinstance(parsed, Mapping | list):
        for path, key, value in _walk(parsed, base, str(base[-1])):
            if isinstance(value, str):
                yield Leaf(subject, key_path(*path), key, value)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if match:
            yield Leaf(subject, f"{key_path(*base)} line {number}", match.group("key"), match.group("value"))
        elif line.strip():
            yield Leaf(subject, f"{key_path(*base)} line {number}", "", line, named=False)


def _object_leaves(ctx: Context, obj: Object) -> Iterator[Leaf]:
    """Annotations of every object, and the data of ConfigMaps (config files walked inside)."""
    subject = ctx.ref(obj)
    for key, value in annotations_of(obj).items():
        if isinstance(value, str):
            yield Leaf(subject, key_path("metadata", "annotations", key), key, value)
    if obj.get("kind") != "ConfigMap":
        return
    for key, value in (obj.get("data") or {}).items():
        if not isinstance(value, str):
            continue
        if "\n" in value or value.lstrip().startswith(("{", "[")):
            yield from _embedded(subject, ("data", str(key)), value)  # a config file
        else:
            yield Leaf(subject, key_path("data", key), key, value)


def _container_leaves(workload: Workload) -> Iterator[Leaf]:
    """Pod template annotations, env literals, and the command line of every container."""
    if workload.kind != "Pod":
        template = workload.pod_path.removesuffix(".spec")
        for key, value in annotations_of({"metadata": workload.pod_meta}).items():
            if isinstance(value, str):
                yield Leaf(workload.ref, f"{template}.{key_path('metadata', 'annotations', key)}", key, value)
    for container in workload.containers():
        for index, env in enumerate(container.spec.get("env") or []):
            if isinstance(env, Mapping) and isinstance(env.get("value"), str):
                path = f"{container.path}.env[{index}].value"
                yield Leaf(workload.ref, path, str(env.get("name")), env["value"])
        for group in ("command", "args"):
            for index, arg in enumerate(container.spec.get(group) or []):
                flag = _FLAG.match(str(arg))
                key, value = (flag.group("key"), flag.group("value")) if flag else ("", str(arg))
                path = f"{container.path}.{group}[{index}]"
                yield Leaf(workload.ref, path, key, value, named=bool(flag))


def leaves(ctx: Context) -> Iterator[Leaf]:
    """Every string the secrets rules look at (the values minus the gates' own settings)."""
    for obj in ctx.objects:
        yield from _object_leaves(ctx, obj)
    for workload in ctx.workloads:
        yield from _container_leaves(workload)
    for path, key, value in _walk({k: v for k, v in ctx.values.items() if k != "gates"}, (), ""):
        if isinstance(value, str):
            yield Leaf(VALUES, key_path(*path), key, value)


@rule(
    "KEEL040",
    "No secret literal under a secret-looking key (password, token, api_key, ...)",
    remediation="keep the value in a Secret provisioned outside the chart and reference it "
    "(existingSecret, env valueFrom.secretKeyRef, ${ENV} expansion)",
)
def secret_literals(ctx: Context) -> Iterator[Hit]:
    for leaf in leaves(ctx):
        credentials = _URL_CREDENTIALS.search(leaf.value)
        if credentials and literal(credentials.group("password")):
            yield Hit(leaf.subject, f"{leaf.path}: a URL carries a password", leaf.path)
        elif leaf.named and leaf.key and secret_key(leaf.key) and literal(leaf.value):
            yield Hit(leaf.subject, f'{leaf.path}: "{leaf.key}" holds a literal value', leaf.path)


@rule(
    "KEEL041",
    "No high-entropy strings that look like keys or tokens",
    remediation="move the value into a Secret provisioned outside the chart; if it is not a secret, "
    "add a gates.waive entry that says what it is",
)
def entropy(ctx: Context) -> Iterator[Hit]:
    for leaf in leaves(ctx):
        if leaf.subject.kind != "Values" and leaf.key.startswith("checksum/"):
            continue  # common.checksums: the sha256 of the rendered config, by design
        for length, bits in high_entropy(leaf.value, leaf.key):
            yield Hit(
                leaf.subject,
                f"{leaf.path}: a {length}-character token with {bits:.1f} bits/character looks like a secret",
                leaf.path,
            )
            break


@rule(
    "KEEL042",
    "The chart renders no Secret with data",
    remediation="create the Secret outside the chart and pass its name (existingSecret)",
)
def no_secret_data(ctx: Context) -> Iterator[Hit]:
    for secret in ctx.of_kind("Secret"):
        for field in ("data", "stringData"):
            if secret.get(field):
                yield Hit(
                    ctx.ref(secret), f"carries {field} ({', '.join(sorted(map(str, secret[field])))})", field
                )
