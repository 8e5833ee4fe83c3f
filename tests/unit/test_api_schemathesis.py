"""Schemathesis over the router's OpenAPI schema: no server errors, every response matching its schema.

Run twice: over a healthy memory database, and over one whose statistics cannot be read
(every answer then a documented 503). The schemas are loaded at import, not through
``schemathesis.pytest.from_fixture``, whose lazy loader needs ``Item._nodeid`` (gone in pytest 9)."""

from __future__ import annotations

import asyncio

import schemathesis
from dependency_injector import providers
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.container import Container
from semantik_chunks.entrypoints.api import INTERNAL_KEY_HEADER
from tests.host_data import (
    PARTITIONS,
    UnreachableHistory,
    UnreachableStatistics,
    host_app,
    memory_container,
    seed_skewed,
)

KEY = "schemathesis-internal-key"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def healthy_container() -> Container:
    database = MemoryDatabase(partition_count=PARTITIONS)
    asyncio.run(seed_skewed(memory_container(database)))
    return memory_container(database, internal_api_key=KEY)


def unavailable_container() -> Container:
    container = memory_container(MemoryDatabase(partition_count=PARTITIONS), internal_api_key=KEY)
    container.partition_statistics.override(providers.Object(UnreachableStatistics()))
    container.statement_statistics.override(providers.Object(UnreachableStatistics()))
    container.partition_history.override(providers.Object(UnreachableHistory()))
    return container


class InternalKey:
    """Schemathesis authenticates with the internal key; its ``ignored_auth`` check then also
    probes each operation without it and with invalid credentials, expecting 401/403."""

    def get(self, case: Case, context: schemathesis.AuthContext) -> str:
        return KEY

    def set(self, case: Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), INTERNAL_KEY_HEADER: data}


def authenticated(case: Case) -> bool:
    return (case.headers or {}).get(INTERNAL_KEY_HEADER) == KEY


healthy = schemathesis.openapi.from_asgi("/openapi.json", host_app(healthy_container()))
healthy.auth()(InternalKey)
unavailable = schemathesis.openapi.from_asgi("/openapi.json", host_app(unavailable_container()))
unavailable.auth()(InternalKey)


@healthy.parametrize()
@SETTINGS
def test_healthy_api_conforms_to_its_schema(case: Case) -> None:
    response = case.call_and_validate()
    if authenticated(case):
        assert response.status_code in (200, 405, 422)


@unavailable.parametrize()
@SETTINGS
def test_unavailable_api_answers_documented_503s(case: Case) -> None:
    # A 503 is what this API documents for an unreadable database; every other check still runs.
    response = case.call_and_validate(excluded_checks=[not_a_server_error])
    if authenticated(case):
        assert response.status_code in (503, 405, 422)
