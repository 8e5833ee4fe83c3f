"""Settings: CHUNK_PARTITION_COUNT validation with clear messages, the environment read once."""

from __future__ import annotations

import pytest

from semantik_chunks.config import DEFAULT_PARTITION_COUNT, MEMORY_URL, Settings, parse_partition_count
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS


@pytest.mark.parametrize(("raw", "expected"), [(None, 100), ("", 100), ("1", 1), ("1024", 1024), ("64", 64), (7, 7)])
def test_valid_partition_counts(raw: str | int | None, expected: int) -> None:
    assert parse_partition_count(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "CHUNK_PARTITION_COUNT must be between 1 and 1024, got 0"),
        ("1025", "CHUNK_PARTITION_COUNT must be between 1 and 1024, got 1025"),
        ("-3", "CHUNK_PARTITION_COUNT must be between 1 and 1024, got -3"),
        (0, "CHUNK_PARTITION_COUNT must be between 1 and 1024, got 0"),
        ("abc", "CHUNK_PARTITION_COUNT must be a whole number between 1 and 1024, got 'abc'"),
        ("1.5", "CHUNK_PARTITION_COUNT must be a whole number between 1 and 1024, got '1.5'"),
        ("1e2", "CHUNK_PARTITION_COUNT must be a whole number between 1 and 1024, got '1e2'"),
        (1.5, "CHUNK_PARTITION_COUNT must be a whole number between 1 and 1024, got 1.5"),
        (100.0, "CHUNK_PARTITION_COUNT must be a whole number between 1 and 1024, got 100.0"),
        (True, "CHUNK_PARTITION_COUNT must be a whole number between 1 and 1024, got True"),
    ],
)
def test_invalid_partition_counts_have_a_clear_message(raw: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_partition_count(raw)  # type: ignore[arg-type]
    assert str(caught.value) == message
    with pytest.raises(ConfigurationError):
        Settings(partition_count=raw)  # type: ignore[arg-type]


def test_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)


def test_defaults() -> None:
    settings = Settings()
    assert settings.partition_count == DEFAULT_PARTITION_COUNT == 100
    assert settings.database_url is None
    assert settings.thresholds is DEFAULT_THRESHOLDS
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        settings.backend  # noqa: B018 -- no URL: an error, never a silent in-memory store


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        (MEMORY_URL, "memory"),
        ("postgresql://u@localhost/db", "postgres"),
        ("postgresql+asyncpg://u@h/db", "postgres"),
    ],
)
def test_backend_follows_the_database_url(url: str, backend: str) -> None:
    assert Settings(database_url=url).backend == backend


def test_from_env_reads_the_documented_variables() -> None:
    settings = Settings.from_env(
        {
            "CHUNK_PARTITION_COUNT": "16",
            "DATABASE_URL": "postgresql://u@h/db",
            "SEMANTIK_INTERNAL_API_KEY": "secret-key",
            "SEMANTIK_ALERT_WEBHOOK_URL": "https://hooks.example/T000/secret",
        }
    )
    assert settings.partition_count == 16
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.internal_api_key == "secret-key"
    assert settings.alert_webhook_url == "https://hooks.example/T000/secret"
    assert "secret" not in repr(settings)  # credentials stay out of logs


def test_from_env_treats_empty_values_as_unset() -> None:
    settings = Settings.from_env({"CHUNK_PARTITION_COUNT": "", "DATABASE_URL": "", "SEMANTIK_INTERNAL_API_KEY": ""})
    assert (settings.partition_count, settings.database_url, settings.internal_api_key) == (100, None, None)
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("raw", ["0", "1025", "abc"])
def test_from_env_rejects_bad_partition_counts(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="CHUNK_PARTITION_COUNT"):
        Settings.from_env({"CHUNK_PARTITION_COUNT": raw})


def test_from_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", "12")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings.from_env().partition_count == 12
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", "abc")
    with pytest.raises(ConfigurationError, match="got 'abc'"):
        Settings.from_env()


def test_timeouts_default_to_the_documented_bounds() -> None:
    settings = Settings.from_env({})
    assert (settings.lock_timeout_ms, settings.statement_timeout_ms) == (5_000, 30_000)


def test_timeouts_come_from_the_environment() -> None:
    env = {"SEMANTIK_LOCK_TIMEOUT_MS": "250", "SEMANTIK_STATEMENT_TIMEOUT_MS": "0"}
    settings = Settings.from_env(env)
    assert (settings.lock_timeout_ms, settings.statement_timeout_ms) == (250, 0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SEMANTIK_LOCK_TIMEOUT_MS": "5s"}, "SEMANTIK_LOCK_TIMEOUT_MS must be a whole number of milliseconds"),
        ({"SEMANTIK_LOCK_TIMEOUT_MS": "-1"}, "SEMANTIK_LOCK_TIMEOUT_MS must be between 0 (none) and 2147483647"),
        ({"SEMANTIK_STATEMENT_TIMEOUT_MS": "2147483648"}, "SEMANTIK_STATEMENT_TIMEOUT_MS must be between 0"),
    ],
)
def test_bad_timeouts_are_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "level"),
    [(None, "WARNING"), ("", "WARNING"), ("INFO", "INFO"), ("critical", "CRITICAL"), (" Warning ", "WARNING")],
)
def test_alert_min_level_from_the_environment(raw: str | None, level: str) -> None:
    environ = {} if raw is None else {"SEMANTIK_ALERT_MIN_LEVEL": raw}
    assert Settings.from_env(environ).alert_min_level.value == level


def test_an_unknown_alert_min_level_names_the_choices() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"SEMANTIK_ALERT_MIN_LEVEL": "loud"})
    assert str(caught.value) == "SEMANTIK_ALERT_MIN_LEVEL must be one of INFO, WARNING, CRITICAL, got 'loud'"
