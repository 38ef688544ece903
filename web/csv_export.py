"""CSV downloads for spreadsheet programs: UTF-8 with BOM, and no cell a spreadsheet would run.

A cell beginning with = + - @ (or a tab or carriage return) is a formula to Excel, WPS and
LibreOffice (CSV injection); such text cells get a leading single quote so they stay text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARACTERS = 64 * 1024  # a streamed export is sent in pieces of about this size


def neutralised(value: Any) -> Any:
    """The value to write in a cell: text that a spreadsheet would read as a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(header: list[str], rows: Iterable[Iterable[Any]], filename: str) -> Response:
    """A CSV attachment with every cell neutralised."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([neutralised(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralised(cell) for cell in row])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def csv_stream(header: list[str], rows: Iterable[Iterable[Any]], filename: str) -> Response:
    """A CSV attachment written while it is sent: `rows` (typically a generator reading the database
    in its own transaction) is consumed piece by piece, so a large export is never held in memory."""

    def pieces() -> Iterator[str]:
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow([neutralised(cell) for cell in header])
        for row in rows:
            writer.writerow([neutralised(cell) for cell in row])
            if out.tell() >= CHUNK_CHARACTERS:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    return Response(stream_with_context(pieces()), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})
