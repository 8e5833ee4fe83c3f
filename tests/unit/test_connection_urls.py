"""The libpq URL translator: what each parameter becomes for asyncpg, and a one-line refusal naming
every parameter it cannot honour. (The parameters' effect on real sessions: tests/integration.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from semantik_chunks.adapters.postgres.urls import check_url, connect_arguments
from semantik_chunks.domain.errors import ConfigurationError


def args(url: str) -> dict[str, Any]:
    return connect_arguments(url).connect_args


def test_a_plain_url() -> None:
    arguments = connect_arguments("postgresql://app:s%40cret@db.example:6543/semantik")
    assert (arguments.username, arguments.database) == ("app", "semantik")
    assert arguments.connect_args == {
        "host": ["db.example"],
        "port": [6543],
        "user": "app",
        "password": "s@cret",
        "database": "semantik",
        "timeout": 10.0,
        "server_settings": {"application_name": "semantik-chunks"},
    }
    assert "s@cret" not in repr(arguments)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("connect_timeout=3", {"timeout": 3.0}),
        ("application_name=api", {"server_settings": {"application_name": "api"}}),
        ("fallback_application_name=fb", {"server_settings": {"application_name": "fb"}}),
        (
            "options=-c%20search_path%3Dx%20-c%20work_mem%3D8MB",
            {"server_settings": {"application_name": "semantik-chunks", "options": "-c search_path=x -c work_mem=8MB"}},
        ),
        ("target_session_attrs=read-write", {"target_session_attrs": "read-write"}),
        ("sslmode=require", {"dsn": "postgresql://?sslmode=require"}),
        ("ssl=true", {"dsn": "postgresql://?sslmode=require"}),
        ("sslmode=disable&sslnegotiation=postgres", {"dsn": "postgresql://?sslmode=disable&sslnegotiation=postgres"}),
        ("krbsrvname=pg&gsslib=gssapi", {"krbsrvname": "pg", "gsslib": "gssapi"}),
        ("password=p%2Bq+r", {"password": "p+q+r"}),  # libpq: percent-decoding only, '+' stays '+'
        ("dbname=other&user=someone", {"database": "other", "user": "someone"}),
    ],
)
def test_each_parameter(query: str, expected: dict[str, Any]) -> None:
    translated = args(f"postgresql://app@db/semantik?{query}")
    assert {key: translated[key] for key in expected} == expected


def test_tls_files_pass_to_asyncpg(tmp_path: Path) -> None:
    for name in ("root.crt", "client.crt", "client.key"):
        (tmp_path / name).write_text("x")
    url = (
        f"postgresql://app@db/semantik?sslmode=verify-full&sslrootcert={tmp_path}/root.crt"
        f"&sslcert={tmp_path}/client.crt&sslkey={tmp_path}/client.key"
    )
    dsn = args(url)["dsn"]
    assert dsn.startswith("postgresql://?sslmode=verify-full&sslrootcert=")
    assert "client.key" in dsn and "/" not in dsn.removeprefix("postgresql://")  # paths percent-encoded


@pytest.mark.parametrize(
    ("url", "hosts", "ports"),
    [
        ("postgresql://u@h1,h2:5433/db", ["h1", "h2"], [5432, 5433]),
        ("postgresql://u@h1:5432,h2:5433/db", ["h1", "h2"], [5432, 5433]),
        ("postgresql://u@[::1]:5444/db", ["::1"], [5444]),
        ("postgresql://u@/db?host=/run/postgresql", ["/run/postgresql"], [5432]),
        ("postgresql://u@%2Frun%2Fpostgresql/db", ["/run/postgresql"], [5432]),
        ("postgresql://u@/db?host=h1,h2&port=5433", ["h1", "h2"], [5433, 5433]),
        ("postgresql://u@/db?host=h1&host=h2&port=1,2", ["h1", "h2"], [1, 2]),
        ("postgresql://u@ignored/db?host=h1", ["h1"], [5432]),  # the query's host wins, as in libpq
    ],
)
def test_host_and_port_lists(url: str, hosts: list[str], ports: list[int]) -> None:
    translated = args(url)
    assert (translated["host"], translated["port"]) == (hosts, ports)


def test_no_host_leaves_asyncpg_its_defaults() -> None:
    assert "host" not in args("postgresql:///db")
    assert args("postgresql:///db?port=5433")["port"] == 5433


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("keepalives=1", "parameter 'keepalives' is not supported"),
        ("sslmdoe=require", "parameter 'sslmdoe' is not supported"),
        ("sslmode=sometimes", "sslmode='sometimes' must be one of"),
        ("sslmode=require&ssl=true", "both ssl and sslmode"),
        ("sslrootcert=/no/such/file.crt", "sslrootcert file '/no/such/file.crt' does not exist"),
        ("sslkey=/no/such/file.key", "sslkey file '/no/such/file.key' does not exist"),
        ("sslrootcert=system", "sslrootcert=system is not supported"),
        ("ssl_min_protocol_version=SSLv3", "ssl_min_protocol_version='SSLv3' must be one of"),
        ("connect_timeout=0", "connect_timeout=0 must be at least 1 second"),
        ("connect_timeout=2.5", "connect_timeout='2.5' must be a whole number of seconds"),
        ("target_session_attrs=writable", "target_session_attrs='writable' must be one of"),
        ("gssencmode=require", "gssencmode=require is not supported"),
        ("channel_binding=require", "channel_binding=require is not supported"),
        ("application_name=a&application_name=b", "parameter 'application_name' is given twice"),
        ("sslmode", "parameter 'sslmode' has no value"),
        ("host=h1,h2&port=1,2,3", "3 ports for 2 hosts"),
        ("port=http", "port 'http' is not a number"),
        ("port=70000", "port 70000 is outside 1..65535"),
    ],
)
def test_what_cannot_be_honoured_is_refused_in_one_line(query: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_url(f"postgresql://app:s3cret@db/semantik?{query}")
    message = str(caught.value)
    assert named in message
    assert "\n" not in message and "s3cret" not in message


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///x.db", "not a url", "postgresql://u@h/db#frag"])
def test_not_a_postgresql_url(url: str) -> None:
    with pytest.raises(ConfigurationError):
        check_url(url)
