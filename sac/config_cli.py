"""Build an argparse parser from a dataclass whose fields carry attribute docstrings.

A field written as::

    batch_size: int = 256
    \"\"\"Transitions per gradient update.\"\"\"

becomes ``--batch-size INT`` with that help text. ``bool`` fields become ``--flag/--no-flag``,
``Literal[...]`` fields get ``choices``, and ``X | None`` fields accept ``none``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from typing import Any, Literal


def field_docs(cls: type) -> dict[str, str]:
    """Return ``{field_name: docstring}`` read from the class source (the string after each field)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:] + [None]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _optional_parser(base: Any) -> Any:
    def parse(text: str) -> Any:
        if text.lower() in ("none", "null", ""):
            return None
        return base(text)

    parse.__name__ = getattr(base, "__name__", "value")
    return parse


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add one option per dataclass field of ``cls`` to ``parser`` (defaults from the dataclass)."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        tp, optional = _unwrap_optional(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = docs.get(f.name, "")
        help_text = f"{help_text} (default: {default})" if help_text else f"(default: {default})"
        kwargs: dict[str, Any] = {"dest": f.name, "default": default, "help": help_text}
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if typing.get_origin(tp) is Literal:
            choices = list(typing.get_args(tp))
            kwargs["choices"] = choices + ([None] if optional else [])
            kwargs["type"] = _optional_parser(type(choices[0])) if optional else type(choices[0])
            kwargs["metavar"] = "{" + ",".join(map(str, choices)) + "}"
        else:
            kwargs["type"] = _optional_parser(tp) if optional else tp
            kwargs["metavar"] = getattr(tp, "__name__", "X").upper()
        parser.add_argument(flag, **kwargs)


def dataclass_from_namespace(cls: type, ns: argparse.Namespace) -> Any:
    """Build ``cls`` from the parsed namespace, taking only the fields ``cls`` has."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(ns).items() if k in names})
