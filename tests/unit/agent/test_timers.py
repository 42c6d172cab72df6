from __future__ import annotations

from datetime import timedelta

import pytest

from smartlic.agent import Timers


def test_defaults_are_those_of_real_devices() -> None:
    t = Timers()
    assert t.evaluation == timedelta(days=90)
    assert (t.id_validity, t.id_renewal) == (timedelta(days=365), timedelta(days=180))
    assert t.authorization_renewal == timedelta(days=30)
    assert (t.communication_deadline, t.grace) == (timedelta(days=90), timedelta(days=90))


def test_backoff_doubles_from_15_minutes_up_to_a_day() -> None:
    t = Timers()
    delays = [t.backoff(n) for n in range(1, 9)]
    assert delays[:4] == [timedelta(minutes=m) for m in (15, 30, 60, 120)]
    assert delays[-1] == timedelta(hours=24)
    assert t.backoff(0) == timedelta(minutes=15)


def test_backoff_never_overflows() -> None:
    assert Timers().backoff(10_000) == timedelta(hours=24)


@pytest.mark.parametrize(
    "kwargs",
    [{"evaluation": timedelta(days=-1)}, {"retry_factor": 0.5}, {"grace": timedelta(seconds=-1)}],
)
def test_nonsense_timers_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Timers(**kwargs)  # type: ignore[arg-type]
