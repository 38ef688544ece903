"""A report's downloads: CSV (one file, its tables one after another) and XLSX (a sheet per table).

Both write the tables of web/report_tables.py as numbers, and neutralise text a spreadsheet would
run as a formula (= + - @, as web/csv_export.py does): product and institution names come from users.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

from flask import Response
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from engine.loans.reports.figures import Report
from web.csv_export import csv_response, neutralised
from web.formatting import beijing
from web.report_tables import Table, definitions, period_label, report_tables

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _cell(value: Any) -> Any:
    """A value as a download writes it: numbers stay numbers, nothing is empty, text is neutralised."""
    if value is None:
        return ""
    if isinstance(value, Decimal | int | float):
        return value
    return neutralised(str(value))


def _heading(report: Report) -> list[list[Any]]:
    scope = (report.institutions[0].name if report.platform is None and report.institutions else _("Whole platform"))
    return [[_("Period"), period_label(report.period), report.period.key],
            [_("Figures for"), scope or ""],
            [_("Figures as of (Beijing time)"), beijing(report.computed_at)]]


def report_csv(report: Report, tables: list[Table], success_target: int, filename: str) -> Response:
    """One CSV: the heading, the definitions, then each table under its title."""
    rows: list[list[Any]] = [*_heading(report), []]
    rows += [[text] for text in definitions(success_target)]
    for table in tables:
        rows += [[], [table.title], [column.title for column in table.columns]]
        rows += [[_cell(value) for value in row] for row in table.rows]
    return csv_response([_("Report")], ([_cell(value) for value in row] for row in rows), filename)


def _sheet_title(title: str, taken: set[str]) -> str:
    name = _SHEET_FORBIDDEN.sub(" ", title)[:31] or "Sheet"
    base, number = name, 2
    while name in taken:
        name = f"{base[:28]} {number}"
        number += 1
    taken.add(name)
    return name


def report_workbook(report: Report, tables: list[Table], success_target: int) -> bytes:
    """The XLSX: a sheet of notes, then a sheet per table (header in bold, numbers as numbers)."""
    workbook = Workbook()
    notes = workbook.active
    assert notes is not None
    taken: set[str] = set()
    notes.title = _sheet_title(_("Notes"), taken)
    for row in _heading(report):
        notes.append([_cell(value) for value in row])
    notes.append([])
    for text in definitions(success_target):
        notes.append([_cell(text)])
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(_sheet_title(table.sheet, taken))
        sheet.append([_cell(column.title) for column in table.columns])
        for header in sheet[1]:
            header.font = bold
        for row in table.rows:
            sheet.append([_cell(value) for value in row])
        for index, column in enumerate(table.columns, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = 14 if index > 1 else 28
            if column.kind == "money":
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = "#,##0.00"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_response(content: bytes, filename: str) -> Response:
    return Response(content, mimetype=XLSX_MIMETYPE,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def downloads(report: Report, kind: str, success_target: int, filename: str) -> Response:
    """The report as `kind` (csv or xlsx)."""
    tables = report_tables(report)
    if kind == "csv":
        return report_csv(report, tables, success_target, f"{filename}.csv")
    return xlsx_response(report_workbook(report, tables, success_target), f"{filename}.xlsx")
