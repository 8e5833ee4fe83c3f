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
    """

    warning: float = attrs.field(default=0.3, validator=_fraction)
    critical: float = attrs.field(default=0.5, validator=_fraction)
    rebalance: float = attrs.field(default=0.4, validator=_fraction)
    hot_hour_share: float = attrs.field(default=0.125, validator=_fraction)
    chance_z: float = attrs.field(default=3.0, validator=_fraction)
    hot_min_writes: int = attrs.field(default=1000, validator=attrs.validators.ge(0))

    def __attrs_post_init__(self) -> None:
        if not self.warning <= self.rebalance <= self.critical:
            raise ValueError(
                "thresholds must satisfy warning <= rebalance <= critical, got "
                f"{self.warning} / {self.rebalance} / {self.critical}"
            )
        if self.hot_hour_share > 1:
            raise ValueError(f"hot_hour_share is a fraction of 1, got {self.hot_hour_share}")


DEFAULT_THRESHOLDS = Thresholds()
