"""A whole year's holiday schedule as the State Council would publish it (2027 is not published yet)."""

from __future__ import annotations

_RANGES = [  # (first day, last day, kind, name)
    ("2027-01-01", "2027-01-03", "休", "元旦"),
    ("2027-01-31", "2027-01-31", "班", "春节"),
    ("2027-02-05", "2027-02-12", "休", "春节"),
    ("2027-02-20", "2027-02-20", "班", "春节"),
    ("2027-04-03", "2027-04-05", "休", "清明节"),
    ("2027-04-25", "2027-04-25", "班", "劳动节"),
    ("2027-05-01", "2027-05-05", "休", "劳动节"),
    ("2027-05-08", "2027-05-08", "班", "劳动节"),
    ("2027-06-09", "2027-06-09", "休", "端午节"),
    ("2027-09-15", "2027-09-15", "休", "中秋节"),
    ("2027-09-26", "2027-09-26", "班", "国庆节"),
    ("2027-10-01", "2027-10-07", "休", "国庆节"),
    ("2027-10-09", "2027-10-09", "班", "国庆节"),
]


def whole_year_2027() -> str:
    """28 holidays and 6 make-up workdays, CSV with the header date,kind,name."""
    from datetime import date, timedelta

    lines = ["date,kind,name"]
    for first, last, kind, name in _RANGES:
        day = date.fromisoformat(first)
        while day <= date.fromisoformat(last):
            lines.append(f"{day.isoformat()},{kind},{name}")
            day += timedelta(days=1)
    return "\n".join(lines) + "\n"
