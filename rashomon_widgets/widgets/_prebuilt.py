"""Explorers built over a prebuilt core object or from the arguments that build one (the short form).

An explorer such as :class:`PruningExplorer` (``study=``) or :class:`NullSpaceExplorer` (``chart=``) either
takes a core object the user built or builds it from its own short-form arguments. Those arguments default
to :class:`ShortFormDefault` markers, so the explorer can tell an argument the user gave from one left at
its default and refuse a prebuilt object together with arguments it would silently ignore.
"""
from __future__ import annotations


class ShortFormDefault:
    """The default of an argument that only the short form takes; shown (and unwrapped) as its value."""

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def unwrap(value):
    """``value``, or the default a :class:`ShortFormDefault` stands for."""
    return value.value if isinstance(value, ShortFormDefault) else value


def given_names(options: dict) -> list[str]:
    """The names in ``options`` whose values the user gave (not left at a :class:`ShortFormDefault`)."""
    return [name for name, value in options.items() if not isinstance(value, ShortFormDefault)]


def refuse_both(keyword: str, kind: str, given: list[str]) -> None:
    """Raise when a prebuilt object (``keyword=``) comes with short-form arguments that it fixes itself.

    Args:
        keyword: the explorer's argument for the prebuilt object (``"study"``, ``"chart"``).
        kind: the object's class name as the user writes it (``"SkeletonStudy"``).
        given: the short-form arguments given alongside.

    Raises:
        ValueError: ``given`` is not empty.
    """
    if given:
        raise ValueError(f"{keyword}: expected either a prebuilt {kind} or the arguments to build one, got both "
                         f"({keyword}= and {', '.join(given)}); set those on the {kind} instead")
