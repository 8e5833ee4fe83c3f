"""The alert thresholds: the single source of truth for Python and the SQL views."""

from __future__ import annotations

import attrs


def _fraction(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class Thresholds:
    """Skew factors (|share - 1/N| / (1/N)) at which a partition changes status.

    ``hot_hour_share`` is a fraction (0.125 = 12.5 % of last hour's writes).
    ``chance_z`` is how many standard deviations of chance skew an observation
    must exceed before an alert calls it more than noise (see ``chance.chance_skew``);
    ``hot_min_writes`` is how many writes in the last hour make a hot partition worth a warning.

    The capacity budget of a partition (whatever the cause of its size, chance included): a chunk
    skew of ``capacity`` (3.0 = four times its fair share; at least ``critical``), and, when set,
    ``max_partition_bytes`` on disk (None, the default, means no absolute limit). A partition whose
    forecast crosses that budget within ``forecast_horizon_days`` raises a forecast warning.
    """

    warning: float = attrs.field(default=0.3, validator=_fraction)
    critical: float = attrs.field(default=0.5, validator=_fraction)
    rebalance: float = attrs.field(default=0.4, validator=_fraction)
    hot_hour_share: float = attrs.field(default=0.125, validator=_fraction)
    chance_z: float = attrs.field(default=3.0, validator=_fraction)
    hot_min_writes: int = attrs.field(default=1000, validator=attrs.validators.ge(0))
    capacity: float = attrs.field(default=3.0, validator=_fraction)
    max_partition_bytes: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.gt(0))
    )
    forecast_horizon_days: float = attrs.field(default=14.0, validator=_fraction)

    def __attrs_post_init__(self) -> None:
        if not self.warning <= self.rebalance <= self.critical:
            raise ValueError(
                "thresholds must satisfy warning <= rebalance <= critical, got "
                f"{self.warning} / {self.rebalance} / {self.critical}"
            )
        if self.capacity < self.critical:
            raise ValueError(f"capacity must be at least critical ({self.critical}), got {self.capacity}")
        if self.hot_hour_share > 1:
            raise ValueError(f"hot_hour_share is a fraction of 1, got {self.hot_hour_share}")

    @property
    def capacity_share_factor(self) -> float:
        """The share budget as a multiple of the fair share (1/N): ``1 + capacity``."""
        return 1.0 + self.capacity


DEFAULT_THRESHOLDS = Thresholds()
