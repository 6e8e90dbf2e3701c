"""Build an argparse parser from a (nested) dataclass whose fields carry attribute docstrings.

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
from collections.abc import Iterator
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


def leaf_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field, Any, str]]:
    """Every non-dataclass field of ``cls`` and of the dataclasses nested in it, depth first:
    ``(dotted path, field, type hint, docstring)``."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from leaf_fields(tp, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f, tp, docs.get(f.name, "")


def field_default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def flag_name(path: str) -> str:
    """``sac.batch_size`` -> ``--batch-size``: nested fields keep their own names (they must not collide)."""
    return "--" + path.rsplit(".", 1)[-1].replace("_", "-")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per leaf field of ``cls`` (nested dataclasses flattened). Options not given on the command line
    are absent from the parsed namespace (``argparse.SUPPRESS``), so the caller knows what the user set."""
    seen: dict[str, str] = {}
    for path, f, hint, doc in leaf_fields(cls):
        flag = flag_name(path)
        if flag in seen:
            raise TypeError(f"{cls.__name__}: {path} and {seen[flag]} would both be {flag}")
        seen[flag] = path
        tp, optional = _unwrap_optional(hint)
        default = field_default(f)
        help_text = f"{doc} (default: {default})" if doc else f"(default: {default})"
        help_text = help_text.replace("%", "%%")  # argparse formats help with %: "90%" must stay text
        kwargs: dict[str, Any] = {"dest": path, "default": argparse.SUPPRESS, "help": help_text}
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


def given_values(ns: argparse.Namespace) -> dict[str, Any]:
    """The dotted paths and values the user set on the command line (see `add_dataclass_arguments`)."""
    return {k: v for k, v in vars(ns).items() if k != "command"}


def replace_paths(obj: Any, values: dict[str, Any]) -> Any:
    """A copy of dataclass ``obj`` with each dotted path in ``values`` set (nested dataclasses copied too)."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            top[head] = value
    for head, sub in nested.items():
        top[head] = replace_paths(getattr(obj, head), sub)
    return dataclasses.replace(obj, **top)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{dotted path: value}`` of every leaf field of dataclass ``obj``."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def flags_markdown(cls: type, computed: dict[str, str] | None = None) -> str:
    """A Markdown table of the flags of ``cls`` (``computed``: path -> how a computed default is described)."""
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for path, f, hint, doc in leaf_fields(cls):
        flag = flag_name(path)
        tp, _ = _unwrap_optional(hint)
        name = flag[2:]
        shown = f"--{name} / --no-{name}" if tp is bool else flag
        default = (computed or {}).get(path, field_default(f))
        rows.append(f"| `{shown}` | `{default}` | {doc} |")
    return "\n".join(rows)
