"""Certificates and keys of the local control plane, made with the base system's ``openssl``.

One throwaway CA signs a serving certificate for 127.0.0.1 (the API server, the controller-manager
and the scheduler all serve with it, so every health check verifies TLS) and one client certificate
per identity. The service-account key pair signs and checks the tokens pods get. Everything lives
under ``.cluster/pki`` and goes away with ``cluster-down``; nothing here is a secret of anyone's.

``openssl`` rather than the ``cryptography`` package: it is in every base image, so the tooling
gains no pin, and the few commands below are all a CA needs.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from keelson.errors import ClusterError, ToolError

if TYPE_CHECKING:
    from pathlib import Path

# The first address of the Service range is the in-cluster name of the API server.
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
DAYS = 30
_SERVER_NAMES = (
    "IP:127.0.0.1",
    f"IP:{API_SERVICE_IP}",
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class Identity:
    """A client of the API server: its user (CN) and groups (O), as RBAC sees them."""

    file: str
    user: str
    groups: tuple[str, ...] = ()


# The bootstrap RBAC policy binds these users to the roles their components need.
ADMIN = Identity("admin", "keelson-admin", ("system:masters",))
CONTROLLER_MANAGER = Identity("controller-manager", "system:kube-controller-manager")
SCHEDULER = Identity("scheduler", "system:kube-scheduler")
# kwok plays the kubelet of every fake node (node and pod status, leases, events); without the Node
# authorizer there is no per-node identity, so it acts as an administrator.
KWOK = Identity("kwok", "keelson-kwok", ("system:masters",))
CLIENTS = (ADMIN, CONTROLLER_MANAGER, SCHEDULER, KWOK)


@dataclass(frozen=True)
class Pki:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.folder / "serving.crt"

    @property
    def serving_key(self) -> Path:
        return self.folder / "serving.key"

    @property
    def service_account_key(self) -> Path:
        return self.folder / "service-account.key"

    @property
    def service_account_pub(self) -> Path:
        return self.folder / "service-account.pub"

    def client_cert(self, identity: Identity) -> Path:
        return self.folder / f"{identity.file}.crt"

    def client_key(self, identity: Identity) -> Path:
        return self.folder / f"{identity.file}.key"


def _openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise ToolError("openssl not found on PATH; install it (Debian: apt-get install openssl)")
    done = subprocess.run([binary, *args], capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClusterError(f"openssl {args[0]} failed while making the cluster certificates: {last}")


def _subject(identity: Identity) -> str:
    return "".join(f"/O={group}" for group in identity.groups) + f"/CN={identity.user}"


def _signed(pki: Pki, name: str, subject: str, extensions: list[str]) -> None:
    """A P-256 key ``name.key`` and its certificate ``name.crt``, signed by the CA."""
    key, csr, crt = (pki.folder / f"{name}.{suffix}" for suffix in ("key", "csr", "crt"))
    ext = pki.folder / f"{name}.ext"
    ext.write_text("\n".join(extensions) + "\n", encoding="utf-8")
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_cert), "-CAkey", str(pki.ca_key),
        "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(DAYS), "-sha256",
        "-extfile", str(ext), "-out", str(crt),
    )  # fmt: skip
    csr.unlink()
    ext.unlink()
    key.chmod(0o600)


def make(folder: Path) -> Pki:
    """Create the CA, the serving certificate, one client certificate per identity and the SA keys."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    pki = Pki(folder)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(pki.ca_key))
    _openssl(
        "req", "-x509", "-new", "-key", str(pki.ca_key), "-subj", "/CN=keelson-local-ca",
        "-days", str(DAYS), "-sha256", "-out", str(pki.ca_cert),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    pki.ca_key.chmod(0o600)
    _signed(
        pki,
        "serving",
        "/CN=keelson-local-control-plane",
        [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            "extendedKeyUsage=serverAuth",
            "subjectAltName=" + ",".join(_SERVER_NAMES),
        ],
    )
    for identity in CLIENTS:
        _signed(
            pki,
            identity.file,
            _subject(identity),
            [
                "basicConstraints=critical,CA:FALSE",
                "keyUsage=critical,digitalSignature",
                "extendedKeyUsage=clientAuth",
            ],
        )
    # RSA: every Kubernetes version verifies RS256 service-account tokens.
    _openssl(
        "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
        "-out", str(pki.service_account_key),
    )  # fmt: skip
    pki.service_account_key.chmod(0o600)
    _openssl("pkey", "-in", str(pki.service_account_key), "-pubout", "-out", str(pki.service_account_pub))
    return pki


def kubeconfig(name: str, server: str, pki: Pki, identity: Identity) -> str:
    def data(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    user = f"keelson-{name}-{identity.file}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority-data": data(pki.ca_cert)}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": data(pki.client_cert(identity)),
                    "client-key-data": data(pki.client_key(identity)),
                },
            }
        ],
        "contexts": [{"name": f"keelson-{name}", "context": {"cluster": name, "user": user}}],
        "current-context": f"keelson-{name}",
    }
    return yaml.safe_dump(config, sort_keys=False)
