"""Why a holiday schedule was refused, in the interface language (the engine words it in English)."""

from __future__ import annotations

import re

from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.workflow.working_days import CalendarError, ImplausibleSchedule, ScheduleFormatError

# The engine's templates (engine.workflow.working_days), so that they are extracted and translated.
REASONS = [
    _l("A whole year's schedule lists at least %(minimum)d holidays; this file lists %(found)d."),
    _l("A year has at most %(maximum)d official holidays; this file lists %(found)d."),
    _l("New Year's Day (元旦, 1 January) is not a holiday in this file."),
    _l("The Spring Festival holiday (春节: at least three days in a row between 15 January and 28 February) "
       "is missing."),
    _l("The National Day holiday (国庆节: 1 to 3 October) is missing."),
    _l("A whole year's schedule has make-up workdays (调休); this file lists none."),
    _l("A year has at most %(maximum)d make-up workdays; this file lists %(found)d."),
    _l("the file is empty"), _l("the first line must be the header date,kind,name"), _l("the file lists no days"),
    _l("expected three columns: date,kind,name"), _l("the name is missing"),
]
FORMAT_PATTERNS = [
    (re.compile(r"all days must be in (?P<year>\d+), the year of the first row"),
     _l("all days must be in %(year)s, the year of the first row")),
    (re.compile(r"not valid CSV: (?P<detail>.*)"), _l("not valid CSV: %(detail)s")),
    (re.compile(r"(?P<value>'.*') is not a date \(YYYY-MM-DD\)"), _l("%(value)s is not a date (YYYY-MM-DD)")),
    (re.compile(r"kind must be holiday or workday \(休/班\), not (?P<value>'.*')"),
     _l("kind must be holiday or workday (休/班), not %(value)s")),
    (re.compile(r"(?P<day>\d{4}-\d\d-\d\d) is listed twice"), _l("%(day)s is listed twice")),
    (re.compile(r"(?P<day>\d{4}-\d\d-\d\d) is a weekday already; only weekends can be make-up workdays"),
     _l("%(day)s is a weekday already; only weekends can be make-up workdays")),
]


def refusal(error: CalendarError) -> str:
    """The reason a schedule was refused, translated, with its line when there is one."""
    if isinstance(error, ImplausibleSchedule):
        return get_translations().gettext(error.reason) % error.values
    if isinstance(error, ScheduleFormatError):
        return _("Line %(line)d: %(reason)s", line=error.line, reason=_reason(error.message))
    return _reason(str(error))


def _reason(message: str) -> str:
    translated = get_translations().gettext(message)
    if translated != message:
        return translated
    for pattern, template in FORMAT_PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return str(template) % match.groupdict()
    return message
