"""The thresholds value object: defaults of seed 002, validation, one instance everywhere."""

from __future__ import annotations

import attrs
import pytest

from semantik_chunks.config import Settings
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds
from semantik_chunks.services.monitoring import PartitionMonitoringService
from semantik_chunks.services.partition_manager import PartitionManager


def test_defaults_are_those_of_the_monitoring_guide() -> None:
    t = Thresholds()
    assert (t.warning, t.rebalance, t.critical) == (0.3, 0.4, 0.5)
    assert t.hot_hour_share == 0.125
    assert t.chance_z == 3.0
    assert t.hot_min_writes == 1000
    assert t == DEFAULT_THRESHOLDS


def test_thresholds_are_configurable() -> None:
    t = Thresholds(warning=0.2, rebalance=0.25, critical=0.3, hot_hour_share=0.5, chance_z=2.0, hot_min_writes=0)
    assert (t.warning, t.rebalance, t.critical, t.hot_hour_share, t.chance_z, t.hot_min_writes) == (
        0.2,
        0.25,
        0.3,
        0.5,
        2.0,
        0,
    )
    assert Thresholds(warning=0.4, rebalance=0.4, critical=0.4).critical == 0.4  # equal is allowed


def test_thresholds_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        DEFAULT_THRESHOLDS.warning = 0.1  # type: ignore[misc]


@pytest.mark.parametrize("field", ["warning", "rebalance", "critical", "hot_hour_share", "chance_z"])
@pytest.mark.parametrize("value", [0.0, -0.1])
def test_non_positive_values_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field} must be positive"):
        Thresholds(**{field: value})


@pytest.mark.parametrize(
    ("warning", "rebalance", "critical"), [(0.5, 0.4, 0.6), (0.3, 0.6, 0.5), (0.6, 0.4, 0.5), (0.3, 0.4, 0.35)]
)
def test_order_warning_rebalance_critical_is_enforced(warning: float, rebalance: float, critical: float) -> None:
    with pytest.raises(ValueError, match="warning <= rebalance <= critical"):
        Thresholds(warning=warning, rebalance=rebalance, critical=critical)


def test_nan_is_rejected() -> None:
    with pytest.raises(ValueError, match="warning <= rebalance <= critical"):
        Thresholds(warning=float("nan"))


def test_hot_hour_share_is_a_fraction() -> None:
    assert Thresholds(hot_hour_share=1.0).hot_hour_share == 1.0
    with pytest.raises(ValueError, match="fraction of 1"):
        Thresholds(hot_hour_share=12.5)


def test_hot_min_writes_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="hot_min_writes"):
        Thresholds(hot_min_writes=-1)


def test_one_default_instance_is_shared_by_config_and_services() -> None:
    from semantik_chunks.adapters.memory.database import MemoryDatabase
    from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics

    port = InMemoryPartitionStatistics(MemoryDatabase())
    assert Settings().thresholds is DEFAULT_THRESHOLDS
    assert PartitionManager().thresholds is DEFAULT_THRESHOLDS
    assert PartitionMonitoringService(port).thresholds is DEFAULT_THRESHOLDS
