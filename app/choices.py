"""`StrChoice`: the base of the app's enums (queue statuses, editor tools). A member is its
string value in every way that matters to callers: equal to it, hashed like it (a dict keyed by
either finds it), and printed and formatted as it ("done", not "Status.DONE"), so files and
settings keep plain strings."""

from __future__ import annotations

from enum import Enum


class StrChoice(str, Enum):
    __hash__ = str.__hash__
    __str__ = str.__str__

    def __format__(self, spec: str) -> str:
        return str.__format__(self, spec)
