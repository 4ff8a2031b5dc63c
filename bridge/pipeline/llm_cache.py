"""What an LLM answered, kept so it is asked once: a thread-safe LRU in the process, mirrored to JSON
files in a directory so separate worker processes on one machine share it, and failures remembered
for a few minutes so the later steps of a case do not each wait out the same timeout.

Writing the mirror is best effort: a read-only disk costs a second call, never a decision.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class AnswerCache(Generic[T]):
    """``load`` turns a file's JSON back into an answer (None or ValueError: not a usable one);
    ``dump`` gives the JSON of an answer."""

    def __init__(self, load: Callable[[Any], T | None], dump: Callable[[T], Any],
                 size: int = 256, failure_ttl: float = 300.0) -> None:
        self.load, self.dump = load, dump
        self.size, self.failure_ttl = size, failure_ttl
        self._items: OrderedDict[str, T] = OrderedDict()
        self._failures: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, directory: Path | None) -> T | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        path = directory / f"{key}.json" if directory else None
        if path is None or not path.is_file():
            return None
        try:
            answer = self.load(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None
        if answer is not None:
            self._remember(key, answer)
        return answer

    def put(self, key: str, answer: T, directory: Path | None) -> None:
        self._remember(key, answer)
        if directory is None:
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key}.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(self.dump(answer), ensure_ascii=False))
            os.replace(tmp, directory / f"{key}.json")
        except OSError:
            pass

    def _remember(self, key: str, answer: T) -> None:
        with self._lock:
            self._items[key] = answer
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def failed(self, key: str) -> str | None:
        with self._lock:
            entry = self._failures.get(key)
            if entry and time.monotonic() - entry[0] < self.failure_ttl:
                return entry[1]
            self._failures.pop(key, None)
            return None

    def fail(self, key: str, reason: str) -> None:
        with self._lock:
            self._failures[key] = (time.monotonic(), reason)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._failures.clear()
