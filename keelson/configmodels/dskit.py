"""Blocks every backend takes from Grafana's dskit library (Apache-2.0), with the same YAML keys in
Loki, Tempo, Mimir and Pyroscope: ``server``, ``memberlist`` and a ring's ``kvstore``, plus the
memberlist rules all four share.

Source: github.com/grafana/dskit ``server/server.go`` (``Config``), ``kv/memberlist/memberlist_client.go``
(``KVConfig``), ``kv/client.go`` (``Config``: the stores) and ``ring/lifecycler.go``, at the versions the
pinned releases vendor; the same keys appear in each program's configuration reference.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from keelson.configmodels.schema import Block, Bool, Duration, Enum, Int, ListOf, Problem, Str, get

if TYPE_CHECKING:
    from collections.abc import Callable

    from keelson.configmodels.program import Workload

LOG_LEVEL = Enum("debug", "info", "warn", "error")

SERVER = Block(
    {
        "http_listen_network": Enum("tcp", "tcp4", "tcp6"),
        "http_listen_address": Str(),
        "http_listen_port": Int(minimum=0),
        "http_listen_conn_limit": Int(minimum=0),
        "grpc_listen_network": Enum("tcp", "tcp4", "tcp6"),
        "grpc_listen_address": Str(),
        "grpc_listen_port": Int(minimum=0),
        "grpc_listen_conn_limit": Int(minimum=0),
        "register_instrumentation": Bool(),
        "graceful_shutdown_timeout": Duration(),
        "http_server_read_timeout": Duration(),
        "http_server_read_header_timeout": Duration(),
        "http_server_write_timeout": Duration(),
        "http_server_idle_timeout": Duration(),
        "grpc_server_max_recv_msg_size": Int(minimum=0),
        "grpc_server_max_send_msg_size": Int(minimum=0),
        "grpc_server_max_concurrent_streams": Int(minimum=0),
        "grpc_server_max_connection_idle": Duration(),
        "grpc_server_max_connection_age": Duration(),
        "grpc_server_max_connection_age_grace": Duration(),
        "grpc_server_keepalive_time": Duration(),
        "grpc_server_keepalive_timeout": Duration(),
        "log_format": Enum("logfmt", "json"),
        "log_level": LOG_LEVEL,
        "log_source_ips_enabled": Bool(),
        "log_request_headers": Bool(),
        "log_request_at_info_level_enabled": Bool(),
        "http_path_prefix": Str(),
    }
)

KVSTORE = Block(
    {
        "store": Enum("consul", "etcd", "inmemory", "memberlist", "multi"),
        "prefix": Str(),
    }
)

MEMBERLIST = Block(
    {
        "node_name": Str(),
        "randomize_node_name": Bool(),
        "stream_timeout": Duration(),
        "retransmit_factor": Int(minimum=0),
        "pull_push_interval": Duration(),
        "gossip_interval": Duration(),
        "gossip_nodes": Int(minimum=0),
        "gossip_to_dead_nodes_time": Duration(),
        "dead_node_reclaim_time": Duration(),
        "compression_enabled": Bool(),
        "advertise_addr": Str(),
        "advertise_port": Int(minimum=0),
        "cluster_label": Str(),
        "cluster_label_verification_disabled": Bool(),
        "join_members": ListOf(Str()),
        "min_join_backoff": Duration(),
        "max_join_backoff": Duration(),
        "max_join_retries": Int(minimum=0),
        "abort_if_cluster_fast_join_fails": Bool(),
        "abort_if_cluster_join_fails": Bool(),
        "rejoin_interval": Duration(),
        "left_ingesters_timeout": Duration(),
        "leave_timeout": Duration(),
        "message_history_buffer_bytes": Int(minimum=0),
        "bind_addr": ListOf(Str()),
        "bind_port": Int(minimum=0),
        "packet_dial_timeout": Duration(),
        "packet_write_timeout": Duration(),
        "max_concurrent_writes": Int(minimum=1),
        "acquire_writer_timeout": Duration(),
        "tls_enabled": Bool(),
    }
)

# A join address: host:port, optionally behind a dskit DNS provider prefix (dns+, dnssrv+, dnssrvnoa+).
_JOIN_MEMBER = re.compile(r"(?:dns\+|dnssrv\+|dnssrvnoa\+)?[^:/\s]+:\d+")


def memberlist_rule(program: str) -> Callable[[Any, Workload], list[Problem]]:
    """A rule: rings of several backends in one cluster merge unless each sets its own
    ``cluster_label``, and a join address without a port joins nothing (dskit falls back to the
    address as a host name)."""

    def rule(config: Any, _workload: Workload) -> list[Problem]:
        return _memberlist_problems(config, program)

    return rule


def _memberlist_problems(config: Any, program: str) -> list[Problem]:
    problems: list[Problem] = []
    if not get(config, "memberlist", "cluster_label"):
        problems.append(
            Problem(
                ("memberlist", "cluster_label"),
                f"required: without its own cluster label {program}'s ring joins any other memberlist "
                "ring it reaches (set keelson-<chart>)",
            )
        )
    for index, member in enumerate(get(config, "memberlist", "join_members", default=[]) or []):
        if isinstance(member, str) and not _JOIN_MEMBER.fullmatch(member):
            problems.append(
                Problem(
                    ("memberlist", "join_members", index),
                    "needs an explicit port: expected [dns+]host:port, e.g. dns+<headless service>:7946",
                )
            )
    return problems
