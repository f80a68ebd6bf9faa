"""Where the Ray engine's cluster is: the check of ``compute.ray.address`` (or the address ``auto`` follows) before any
work, so that an address nothing answers at, one that answers as something else than Ray's GCS, or a Ray Client address
this machine cannot use is one line, not a ray.init that retries for minutes or a line naming the wrong cause."""

from __future__ import annotations

import os
import re
from pathlib import Path

from winnow.errors import WinnowError, first_line


CONNECT_SECONDS = 10.0  # ray.init retries an address that does not answer for ever, deaf to SIGINT and SIGTERM


def _no_cluster(address: str | None, reason: str, *, where: str = "compute.ray.address") -> WinnowError:
    return WinnowError(f"{where}: no Ray cluster at {address!r} ({reason}); start one with "
                       "`ray start --head`, or set compute.ray.address: null for a local one")


def _check_addresses(address: str | None) -> None:
    """:func:`_check_reachable` on the address Ray would join: ``address``, or with ``auto`` the environment's
    RAY_ADDRESS when set (ray.init follows it; its line named nothing but ``auto``), else the address the last
    ``ray start`` on this machine wrote to Ray's ``ray_current_cluster`` file, when there is one and Ray follows it:
    with exactly one cluster running on this machine, Ray joins that one whatever the file says. RAY_ADDRESS=auto is
    auto itself (Ray looks for the cluster as without it), RAY_ADDRESS=local a cluster Ray starts here: neither is an
    address to check (before: "'auto' is not host:port, ray://host:port, auto or null", a setting Ray takes refused)."""
    environment = os.environ.get("RAY_ADDRESS") or "auto"
    if address not in (None, "auto", "local"):
        _check_reachable(address)
        _check_client(address)
    elif address == "auto" and environment not in ("auto", "local"):
        where = "RAY_ADDRESS (compute.ray.address: auto follows it)"
        _check_reachable(environment, where=where)
        _check_client(environment, where=where)
    elif address == "auto" and environment == "auto":
        # before: a file left by a cluster that is gone (its head killed or rebooted, never `ray stop`ped) was joined
        # unchecked, and ray.init retried "Failed to get cluster ID from GCS" for ever
        from ray._common.utils import get_ray_address_file
        from ray._private.services import find_gcs_addresses

        file = get_ray_address_file(None)
        try:
            written = Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):  # no file: Ray looks for a cluster running here, or says there is none
            return
        # Ray's own rule (services.get_ray_address_from_environment): the one GCS running here wins over the file
        # (before: a stale file beside a cluster started by ray.init elsewhere on this machine was refused, where Ray
        # joined that cluster)
        if written and len(find_gcs_addresses()) != 1:
            _check_reachable(written, where=f"compute.ray.address: auto, which follows {file} (written by `ray start`, "
                                            "removed by `ray stop`)")


# an HTTP/2 client's connection preface and an empty SETTINGS frame: a gRPC server (Ray's GCS, its client server)
# answers with a SETTINGS frame of its own, an HTTP/1 server (Ray's dashboard, 8265) with text
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _check_reachable(address: str, *, where: str = "compute.ray.address") -> None:
    """One line unless ``address`` (``host:port`` or ``ray://host:port``) answers as gRPC within
    :data:`CONNECT_SECONDS`: Ray itself would hang on an address that does not answer, or that answers as
    something else (retrying "Failed to get cluster ID from GCS" until killed), or raise a parser's traceback."""
    import socket

    if "@" in address:  # user:secret@ before the host: never repeated (before: whole in the line, and read as the host)
        shown = address.rpartition("@")[2]
        source = "params.yaml (and its history)" if where.startswith("compute.ray.address") else "RAY_ADDRESS"
        raise WinnowError(f"{where}: the address holds credentials before its host (user:secret@, not repeated here), "
                          f"which Ray does not read from an address; remove them from {source} and give "
                          f"{'ray://' if address.startswith('ray://') else ''}{shown}")
    found = re.fullmatch(r"(?:ray://)?\[?([^\[\]/]+?)\]?:(\d{1,5})", address)
    if found is None or not 0 < int(found.group(2)) < 65536:
        raise WinnowError(f"{where}: {address!r} is not host:port, ray://host:port, auto or null; give the address "
                          "`ray start --head` printed")
    # a cluster with TLS on (RAY_USE_TLS) answers a plain preface by closing: there the connection alone is checked
    tls = os.environ.get("RAY_USE_TLS", "").strip().lower() in ("1", "true")
    try:
        with socket.create_connection((found.group(1), int(found.group(2))), timeout=CONNECT_SECONDS) as conn:
            if tls:
                return
            conn.sendall(_HTTP2_HELLO)
            answer = b""
            while len(answer) < 9:
                more = conn.recv(9 - len(answer))
                if not more:
                    break
                answer += more
    except OSError as err:  # refused, unreachable, unknown host, or no answer in time
        raise _no_cluster(address, f"{type(err).__name__}: {err.strerror or err}", where=where) from err
    if len(answer) < 9 or answer[3] != 4:  # byte 3 of an HTTP/2 frame header: its type; 4 is SETTINGS
        raise _no_cluster(address, "it answers, but not as gRPC, which a Ray cluster's GCS speaks; the dashboard's "
                                   "port? give the GCS port, 6379 unless `ray start --head` said another",
                          where=where)


def _check_client(address: str, *, where: str = "compute.ray.address") -> None:
    """One line when ``address`` is a Ray Client address (``ray://``) and Ray's client (``ray[client]``: grpcio) is not
    installed here. Before, once the address answered, ray.init's ValueError was told as "no Ray cluster at 'ray://...'
    (Ray Client requires ...); start one with `ray start --head`": a cluster that runs, and a fix that changes nothing."""
    if not address.startswith("ray://"):
        return
    from ray._private.utils import get_ray_client_dependency_error

    missing = get_ray_client_dependency_error()
    if missing is not None:
        raise WinnowError(f"{where}: {address!r} is a Ray Client address (ray://), which needs Ray's client, not "
                          f"installed here ({first_line(missing)}): pip install 'ray[client]', or give the cluster's "
                          "GCS address host:port (6379 unless `ray start --head` said another) without ray://")


def auth_as_set_now() -> None:
    """Ray's cached settings read anew from ``os.environ``, before a session's ray.init: Ray reads RAY_AUTH_MODE once
    into its cache, and a cluster started here inherits the variable. Before: a caller's own ray.init (RAY_AUTH_MODE
    left token), the variable taken away for a session that failed (its end read the cache anew: off) and given back
    by the caller, and the next session's cluster asked for a token the driver never sent: "the local Ray cluster did
    not start (Failed to start GCS ...); free memory or space under /tmp ...", a fix that mends nothing."""
    from ray._raylet import Config

    Config.initialize("")
