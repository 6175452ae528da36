import datetime as dt

import pytest

from clusterkit.times import parse_timestamp_us

T = int(dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00+00:00",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T10:00:00",  # no zone: UTC
        "2024-05-01 10:00:00",
        "2024-05-01 10:00:00 UTC",
        1714557600,  # epoch seconds
        1714557600.0,
        "1714557600",
        1714557600000,  # epoch milliseconds
        "1714557600000",
        1714557600000000,  # microseconds
        dt.datetime(2024, 5, 1, 10, 0),
    ],
)
def test_parses_to_utc_microseconds(value):
    assert parse_timestamp_us(value) == T


def test_keeps_sub_second_precision():
    assert parse_timestamp_us("2024-05-01T10:00:00.250Z") == T + 250_000
    assert parse_timestamp_us(1714557600250) == T + 250_000


@pytest.mark.parametrize(
    "value", ["last tuesday", "", "2024-13-45", True, {"a": 1}, float("nan"), 1e30, -5, "0001-01-01", "2999-01-01", 12]
)
def test_rejects_garbage(value):
    with pytest.raises(ValueError):
        parse_timestamp_us(value)
