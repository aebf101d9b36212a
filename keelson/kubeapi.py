"""A few calls to the local API server over TLS with a client certificate, for ``keelson.cluster``.

Only what bringing the control plane up needs (health endpoints, reading nodes, creating the
cluster's own objects); everything else goes through the pinned kubectl and helm.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

# One call should never hang a wait loop: each has its own short deadline.
CALL_SECONDS = 5.0


@dataclass(frozen=True)
class Endpoint:
    """An HTTPS server signed by ``ca``; ``cert``/``key`` authenticate us when given."""

    base_url: str
    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if self.cert is not None:
            context.load_cert_chain(str(self.cert), str(self.key) if self.key else None)
        return context

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        """(status, body text); a refused connection or timeout is status 0 with the reason."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=CALL_SECONDS, context=self._context()) as reply:
                return int(reply.status), reply.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            return 0, str(getattr(exc, "reason", exc))

    def get_json(self, path: str) -> dict[str, Any] | None:
        status, text = self.request("GET", path)
        if status != 200:
            return None
        loaded = json.loads(text)
        return loaded if isinstance(loaded, dict) else None

    def ok(self, path: str) -> bool:
        return self.request("GET", path)[0] == 200


def plain_ok(url: str) -> bool:
    """GET over plain HTTP (etcd and kwok on loopback) answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=CALL_SECONDS) as reply:
            return int(reply.status) == 200
    except (urllib.error.URLError, OSError):
        return False
