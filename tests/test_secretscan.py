"""The secret detector: key names, references, redaction and what messages may show."""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
import subprocess
import sys

import pytest
from support import REPO

from keelson import secretscan
from keelson.errors import KeelsonError
from keelson.models import Finding, format_path


def _random(seed: str, alphabet: str, length: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(length))


def aws_key_id(seed: str) -> str:
    return "AK" + "IA" + _random(seed, string.ascii_uppercase + "234567", 16)


@pytest.mark.parametrize(
    "name",
    ["DB_PASS", "pwd", "SECRET_KEY_BASE", "privateKeyPem", "dsn", "sentryDsn", "token", "apikey", "API_KEY",
     "credential", "credentials", "db_password", "clientSecret", "smtp.password", "ENCRYPTION_KEY",
     "signing-key", "authToken", "secrets", "passphrase"],
)  # fmt: skip
def test_secret_like_key_names(name: str) -> None:
    assert secretscan.secret_key(name)
    found = secretscan.detect("plain-value-1", name)
    assert found is not None
    assert found.kind == "secret-key-name"


@pytest.mark.parametrize(
    "name",
    ["passwordKey", "existingSecret", "secretName", "tokenFile", "secretKeyRef", "passwordSecret",
     "tokenTTL", "secretRef", "passwordFile", "credentialsFile", "clientSecretKey",
     "existingSecretPasswordKey", "bypass", "passwordMinLength", "LOG_LEVEL", "OAUTH_ISSUER_URL",
     "tokenizer"],
)  # fmt: skip
def test_names_that_name_a_secret_or_something_else_are_fine(name: str) -> None:
    assert not secretscan.secret_key(name)
    assert secretscan.detect("keelson-db-credentials", name) is None


@pytest.mark.parametrize(
    "value",
    ["${DB_PASSWORD}", "$(DB_PASSWORD)", "$DB_PASSWORD", 'sys.env("DB_PASSWORD")', "/etc/secrets/password",
     "file:/run/secrets/token", "{{ .Values.password }}", "true", "8080", "30s"],
)  # fmt: skip
def test_references_and_flags_are_not_literals(value: str) -> None:
    assert secretscan.detect(value, "password") is None


def test_provider_formats_are_found_anywhere_in_a_value() -> None:
    key_id = aws_key_id("note")
    found = secretscan.detect(f"rotate {key_id} monthly", "NOTE")
    assert found == secretscan.Detection("aws-access-key-id", "matches the aws-access-key-id format")
    secret_key = _random("secret", string.ascii_letters + string.digits + "/+", 40)
    assert secretscan.detect(f"secret={secret_key}", "NOTE") == secretscan.Detection(
        "aws-secret-key", "looks like an AWS secret access key"
    )


def test_digests_and_hex_hashes_under_hash_keys_are_not_secrets() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert secretscan.detect(f"docker.io/grafana/loki@sha256:{digest}", "image") is None
    assert secretscan.detect(digest, "checksum/config") is None
    assert secretscan.detect(hashlib.sha1(b"x").hexdigest(), "commit") is None


def test_redaction_is_keyed_per_run() -> None:
    """Equal values redact alike within a run; the tag is not the plain sha256, and another run
    (another process) gives another tag, so nothing can be confirmed offline."""
    first = secretscan.redact(b"hunter2")
    assert first == secretscan.redact("hunter2")
    assert first != secretscan.redact(b"hunter3")
    assert re.fullmatch(r"<redacted: 7 bytes, hmac [0-9a-f]{12}>", first)
    assert hashlib.sha256(b"hunter2").hexdigest()[:12] not in first
    other_run = subprocess.run(
        [sys.executable, "-c", "from keelson import secretscan; print(secretscan.redact(b'hunter2'))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert re.fullmatch(r"<redacted: 7 bytes, hmac [0-9a-f]{12}>", other_run)
    assert other_run != first


def test_scrub_redacts_flagged_strings_and_lines_only() -> None:
    key_id = aws_key_id("scrub")
    config = f"LOG_LEVEL=info\nDB_PASSWORD=hunter2hunter2\nNOTE={key_id}\n"
    scrubbed = secretscan.scrub({"data": {"app.env": config, "LOG_LEVEL": "debug"}, "NOTE": key_id})
    text = json.dumps(scrubbed)
    assert "hunter2" not in text
    assert key_id not in text
    lines = scrubbed["data"]["app.env"].split("\n")
    assert lines[0] == "LOG_LEVEL=info"
    assert re.fullmatch(r"DB_PASSWORD=<redacted: 14 bytes, hmac [0-9a-f]{12}>", lines[1])
    assert scrubbed["data"]["LOG_LEVEL"] == "debug"
    assert scrubbed["NOTE"] == secretscan.redact(key_id)


def test_excerpts_show_short_safe_values_only() -> None:
    assert secretscan.excerpt("latest") == '"latest"'
    assert secretscan.excerpt(3) == "3"
    assert secretscan.excerpt(aws_key_id("excerpt")) == "a string of 20 characters (not shown)"
    assert secretscan.excerpt("x" * 200) == "a string of 200 characters (not shown)"
    assert secretscan.excerpt("hunter2", key="password") == "a string of 7 characters (not shown)"
    assert secretscan.excerpt({"a": 1}) == "a mapping of 1 keys"


def test_paths_hide_secret_shaped_keys() -> None:
    assert format_path(("app", aws_key_id("path"), "x")) == 'app["<key of 20 characters>"].x'
    assert format_path(("app", "components", 0)) == "app.components[0]"


def test_scan_reports_keys_and_values_with_paths() -> None:
    key_id = aws_key_id("scan")
    found = list(secretscan.scan({"app": {"NOTE": key_id, "list": [{"password": "hunter2"}]}, key_id: 1}))
    assert [(path, detection.kind) for path, detection in found] == [
        (("app", "NOTE"), "aws-access-key-id"),
        (("app", "list", 0, "password"), "secret-key-name"),
        ((key_id,), "aws-access-key-id"),
    ]
    assert all(key_id not in detection.detail for _, detection in found)


def test_every_error_line_is_quieted_as_a_last_guard() -> None:
    """Whatever a message picks up from an input, KeelsonError and Finding print no secret-shaped word;
    hex commits and digests, which the tools print on purpose, stay."""
    key_id = aws_key_id("quiet")
    image = f"registry.example.com/{key_id}:latest"
    assert KeelsonError(f'image "{image}" is not pinned').message == 'image "<redacted>" is not pinned'
    assert (
        str(Finding("values/prod.yaml", "app.image", f"got {key_id}"))
        == "values/prod.yaml: app.image: got <redacted>"
    )
    digest = hashlib.sha256(b"x").hexdigest()
    assert KeelsonError(f"sha256 {digest} differs").message == f"sha256 {digest} differs"
