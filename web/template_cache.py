"""Compiled templates shared by every app of the process.

A Flask app compiles each template the first time it renders it; the CLI and the test suite build many
apps in one process, each of which compiled the same templates again. Jinja keys a bucket by the
template's name and checks its source's checksum, so an edited template is compiled anew.
"""

from __future__ import annotations

from threading import Lock

from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache


class ProcessBytecodeCache(BytecodeCache):
    """Jinja's bytecode, kept in this process's memory."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # ignored by Jinja if the source changed since

    def dump_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            self._code[bucket.key] = bucket.bytecode_to_string()


_SHARED = ProcessBytecodeCache()


def init_app(app: Flask) -> None:
    app.jinja_env.bytecode_cache = _SHARED
