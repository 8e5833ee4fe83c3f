"""libpq connection URLs (what ``psql``, managed PostgreSQL and ``DATABASE_URL`` use) as asyncpg's arguments.

One translator for every path that connects: the CLI, the API, the Celery tasks and the
migrations all get their engine from ``engine.create_engine``, which calls ``connect_arguments``.

Translated:

- ``user``, ``password``, ``dbname``, the path's database, and hosts: ``host1:5432,host2:5433`` in the
  authority, ``?host=`` / ``?port=`` (comma lists, or repeated), a socket directory
  (``?host=/var/run/postgresql`` or a percent-encoded ``%2Fvar%2Frun%2Fpostgresql`` authority);
- ``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``, ``sslcrl``, ``sslpassword``,
  ``ssl_min_protocol_version``, ``ssl_max_protocol_version``, ``sslnegotiation``: handed to asyncpg's own
  libpq-compatible TLS set-up (``ssl`` is accepted as a synonym of ``sslmode``);
- ``connect_timeout`` (whole seconds, at least 1): asyncpg's ``timeout`` (default ``CONNECT_TIMEOUT_SECONDS``);
- ``application_name`` / ``fallback_application_name`` and ``options`` (``-c name=value ...``): startup
  parameters, as libpq sends them (``server_settings``);
- ``target_session_attrs``, ``passfile``, ``krbsrvname``, ``gsslib``: asyncpg's arguments of those names;
- ``gssencmode`` and ``channel_binding`` ``disable``/``prefer``: nothing to do (asyncpg never encrypts with
  GSSAPI and binds no channel, which is what libpq does under ``prefer`` when the server offers neither).

Everything else (``gssencmode=require``, ``keepalives``, a misspelt name, ...) is refused with a one-line
``ConfigurationError`` naming the parameter, before anything connects. Pure Python: the CLI checks
a URL with it without importing SQLAlchemy.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import attrs

from semantik_chunks.domain.errors import ConfigurationError

CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_PORT = 5432
APPLICATION_NAME = "semantik-chunks"
SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
EXPECTED = "expected postgresql://user:password@host:5432/dbname?param=value (libpq's URL form)"

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SESSION_ATTRS = ("any", "primary", "standby", "read-write", "read-only", "prefer-standby")
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_TLS_PARAMETERS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslpassword",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslnegotiation",
)
_TLS_FILES = ("sslrootcert", "sslcert", "sslkey", "sslcrl")
_NO_OP_UNLESS_REQUIRED = ("gssencmode", "channel_binding")
_AS_ARGUMENT = ("target_session_attrs", "passfile", "krbsrvname", "gsslib")
SUPPORTED = (
    "host",
    "port",
    "dbname",
    "user",
    "password",
    "ssl",
    *_TLS_PARAMETERS,
    "connect_timeout",
    "application_name",
    "fallback_application_name",
    "options",
    *_AS_ARGUMENT,
    *_NO_OP_UNLESS_REQUIRED,
)
_REPEATABLE = ("host", "port")


def _refuse(message: str) -> ConfigurationError:
    return ConfigurationError(f"database URL: {message}")


@attrs.frozen
class ConnectArguments:
    """What ``create_async_engine`` needs: the SQLAlchemy URL parts (shown in the engine's repr; no
    password, no host) and asyncpg's ``connect()`` keyword arguments (``connect_args``)."""

    username: str | None
    database: str | None
    connect_args: dict[str, Any] = attrs.field(repr=False)


def _query(raw: str) -> dict[str, list[str]]:
    """libpq's query: ``&``-separated ``name=value``, percent-decoded (a ``+`` stays a ``+``)."""
    found: dict[str, list[str]] = {}
    for item in raw.split("&"):
        if not item:
            continue
        name, equals, value = item.partition("=")
        name = unquote(name)
        if not equals:
            raise _refuse(f"parameter {name!r} has no value (write {name}=value)")
        if name not in SUPPORTED:
            raise _refuse(
                f"parameter {name!r} is not supported (semantik-chunks connects with asyncpg); "
                f"supported: {', '.join(SUPPORTED)}"
            )
        if name in found and name not in _REPEATABLE:
            raise _refuse(f"parameter {name!r} is given twice")
        found.setdefault(name, []).append(unquote(value))
    return found


def _split_hostspec(spec: str) -> tuple[str, str]:
    """``host``, ``host:port``, ``[v6]:port`` or a percent-encoded socket directory: (host, port text)."""
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise _refuse(f"unclosed IPv6 address {spec!r}")
        rest = spec[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _refuse(f"unexpected {rest!r} after the IPv6 address {spec[: end + 1]!r}")
        return spec[1:end], rest[1:]
    host, _, port = spec.partition(":")
    return unquote(host), port


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _refuse(f"port {text!r} is not a number") from None
    if not 1 <= value <= 65535:
        raise _refuse(f"port {value} is outside 1..65535")
    return value


def _hosts_and_ports(authority_hosts: str, query: dict[str, list[str]]) -> tuple[list[str], list[int]]:
    specs = authority_hosts.split(",") if authority_hosts else []
    hosts: list[str] = []
    spec_ports: list[str] = []
    for spec in specs:
        host, port = _split_hostspec(spec)
        hosts.append(host)
        spec_ports.append(port)
    if "host" in query:  # the query's hosts win, as in libpq
        hosts = [h for value in query["host"] for h in value.split(",")]
        spec_ports = [""] * len(hosts)
    if any(not h for h in hosts) and len(hosts) > 1:
        raise _refuse("an empty host in a host list")
    hosts = [h for h in hosts if h]
    if "port" in query:
        given = [p for value in query["port"] for p in value.split(",")]
        if len(given) == 1:
            given *= max(len(hosts), 1)
        elif len(given) != len(hosts):
            raise _refuse(f"{len(given)} ports for {len(hosts)} hosts (give one port, or one per host)")
        spec_ports = given
    ports = [_port(p) if p else DEFAULT_PORT for p in spec_ports]
    if not hosts and ports:  # a port without a host: libpq's default socket directory or localhost
        return [], ports[:1]
    return hosts, ports


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _timeout(text: str | None) -> float:
    if text is None:
        return float(CONNECT_TIMEOUT_SECONDS)
    try:
        value = int(text)
    except ValueError:
        raise _refuse(f"connect_timeout={text!r} must be a whole number of seconds") from None
    if value < 1:
        # libpq reads 0 as "wait forever"; semantik-chunks never waits without a bound.
        raise _refuse(f"connect_timeout={value} must be at least 1 second (semantik-chunks always bounds the wait)")
    return float(value)


def _tls(query: dict[str, list[str]]) -> dict[str, str]:
    tls = {name: value for name in _TLS_PARAMETERS if (value := _one(query, name)) is not None}
    alias = _one(query, "ssl")
    if alias is not None:
        if "sslmode" in tls:
            raise _refuse("both ssl and sslmode are given; keep sslmode")
        tls["sslmode"] = {"true": "require", "1": "require", "false": "disable", "0": "disable"}.get(
            alias.lower(), alias
        )
    mode = tls.get("sslmode")
    if mode is not None and mode not in SSL_MODES:
        raise _refuse(f"sslmode={mode!r} must be one of {', '.join(SSL_MODES)}")
    if tls.get("sslrootcert") == "system":
        raise _refuse("sslrootcert=system is not supported; give the path of the CA certificate file")
    for name in _TLS_FILES:
        path = tls.get(name)
        if path is not None and not os.path.isfile(os.path.expanduser(path)):
            raise _refuse(f"{name} file {path!r} does not exist or is not a file")
    for name in ("ssl_min_protocol_version", "ssl_max_protocol_version"):
        version = tls.get(name)
        if version is not None and version not in TLS_VERSIONS:
            raise _refuse(f"{name}={version!r} must be one of {', '.join(TLS_VERSIONS)}")
    negotiation = tls.get("sslnegotiation")
    if negotiation is not None and negotiation not in ("postgres", "direct"):
        raise _refuse(f"sslnegotiation={negotiation!r} must be postgres or direct")
    return tls


def connect_arguments(url: str) -> ConnectArguments:
    """asyncpg's ``connect()`` arguments for a libpq URL; ``ConfigurationError`` names what cannot be used."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _refuse(f"not a URL ({exc}); {EXPECTED}") from None
    if parts.scheme not in SCHEMES:
        raise ConfigurationError(f"not a PostgreSQL URL (scheme {parts.scheme!r}); {EXPECTED}")
    if parts.fragment:
        raise _refuse("a URL fragment ('#...') means nothing to PostgreSQL; percent-encode '#' as %23")
    userinfo, at, authority_hosts = parts.netloc.rpartition("@")
    if not at:
        userinfo, authority_hosts = "", parts.netloc
    username, colon, password = userinfo.partition(":")
    query = _query(parts.query)

    hosts, ports = _hosts_and_ports(authority_hosts, query)
    user = _one(query, "user") or unquote(username) or None
    secret = _one(query, "password")
    if secret is None and colon:
        secret = unquote(password)
    database = _one(query, "dbname") or unquote(parts.path.lstrip("/")) or None

    for name in _NO_OP_UNLESS_REQUIRED:
        value = _one(query, name)
        if value not in (None, "disable", "prefer"):
            raise _refuse(f"{name}={value} is not supported by asyncpg; use {name}=disable or prefer, or remove it")
    target = _one(query, "target_session_attrs")
    if target is not None and target not in SESSION_ATTRS:
        raise _refuse(f"target_session_attrs={target!r} must be one of {', '.join(SESSION_ATTRS)}")

    settings = {
        "application_name": _one(query, "application_name")
        or _one(query, "fallback_application_name")
        or APPLICATION_NAME
    }
    options = _one(query, "options")
    if options:
        settings["options"] = options  # PostgreSQL parses it, exactly as with libpq's startup packet

    args: dict[str, Any] = {"timeout": _timeout(_one(query, "connect_timeout")), "server_settings": settings}
    if hosts:
        args["host"] = hosts
        args["port"] = ports
    elif ports:
        args["port"] = ports[0]
    if secret is not None:
        args["password"] = secret
    if user is not None:
        args["user"] = user
    if database is not None:
        args["database"] = database
    for name in _AS_ARGUMENT:
        value = _one(query, name)
        if value is not None:
            args[name] = value
    tls = _tls(query)
    if tls:
        # asyncpg's own libpq-compatible TLS set-up reads these from a DSN only; its other
        # arguments (hosts, user, ...) are given above and take precedence over the DSN's.
        args["dsn"] = "postgresql://?" + "&".join(f"{name}={quote(value, safe='')}" for name, value in tls.items())
    return ConnectArguments(username=user, database=database, connect_args=args)


def check_url(url: str) -> None:
    """Raise ``ConfigurationError`` unless ``url`` is a PostgreSQL URL this library can connect with."""
    connect_arguments(url)
