"""A real API server for the crash test: `python -m tests.api.crash_server URL PORT_FILE MARKER`.

While the file MARKER exists, the process kills itself with SIGKILL right after a transaction
that created an application has committed, before anything else happens (a server dying at the
worst moment: whatever the request meant to write after that commit is never written).
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from engine.models import LoanApplication
from web import create_app


def main() -> None:
    url, port_file, marker = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    limit = 3 * 1024 ** 3  # a failing script guard must not take the machine down with the server
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    app = create_app({"TESTING": True, "DATABASE_URL": url})

    def note_new_application(session: Session, _context: object) -> None:
        if any(isinstance(obj, LoanApplication) for obj in session.new):
            session.info["created_application"] = True

    def die_after_commit(session: Session) -> None:
        if session.info.get("created_application") and marker.exists():
            os.kill(os.getpid(), signal.SIGKILL)

    sa.event.listen(Session, "before_flush", lambda session, context, _instances: note_new_application(
        session, context))
    sa.event.listen(Session, "after_commit", die_after_commit)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    port_file.write_text(str(server.server_port))
    server.serve_forever()


if __name__ == "__main__":
    main()
