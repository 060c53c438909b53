"""YAML files <-> nested dataclasses, strictly.

    cfg = load_config(LMTrainConfig, "cfg.yaml", ["optim.lr=3e-4", "run.steps=1000"])

Unknown keys are errors (with the list of valid keys), values are checked against the field types
(int, float, str, bool, X | None, list[X], dict, nested dataclasses), and `key.sub=value` overrides
are parsed as YAML scalars/lists (`run.device=cuda`, `optim.betas=[0.9,0.95]`).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..errors import ConfigError

T = TypeVar("T")


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp, where: str):
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{where}: may not be null")
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {tp}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return from_dict(tp, value, where)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item_tp = args[0] if args else Any
        return [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        args = typing.get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, vt, f"{where}.{k}") for k, v in value.items()}
    if value is None:
        raise ConfigError(f"{where}: may not be null")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise ConfigError(f"{where}: unsupported config type {_type_name(tp)}")


def _dataclass_type(tp):
    """The dataclass in `tp` (also inside `X | None`), else None."""
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for a in typing.get_args(tp):
            if dataclasses.is_dataclass(a):
                return a
    return None


def from_dict(cls: type[T], data: dict | None, where: str = "", base: T | None = None) -> T:
    """Build dataclass `cls` from a mapping; unknown keys and wrong types raise ConfigError.

    Missing keys keep their defaults; a partial nested section is merged over the default of that
    section (e.g. `optim: {lr: 1e-3}` keeps the trainer's other optimiser defaults). `base` is an
    instance whose values serve as the defaults."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    flds = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in flds]
    unknown = [k for k in data if k not in names]
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(f"unknown config key(s) {', '.join(prefix + str(k) for k in unknown)}; "
                          f"valid keys{' under ' + where if where else ''}: {', '.join(names)}")
    kwargs = {}
    for f in flds:
        name, sub = f.name, (f"{where}.{f.name}" if where else f.name)
        if name in data:
            value, dc = data[name], _dataclass_type(hints[name])
            if dc is not None and isinstance(value, dict):
                nested = getattr(base, name) if base is not None else (
                    f.default_factory() if f.default_factory is not dataclasses.MISSING else
                    (f.default if f.default is not dataclasses.MISSING else None))
                kwargs[name] = from_dict(dc, value, sub, base=nested if dataclasses.is_dataclass(nested) else None)
            else:
                kwargs[name] = _convert(value, hints[name], sub)
        elif base is not None:
            import copy

            kwargs[name] = copy.deepcopy(getattr(base, name))
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(f"override {text!r}: bad key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Set nested keys in a (copied) mapping; validation happens in `from_dict`."""
    import copy

    data = copy.deepcopy(data) if data else {}
    for text in overrides or []:
        path, value = parse_override(text)
        node = data
        for p in path[:-1]:
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {text!r}: {p} is not a section")
            node = nxt
        node[path[-1]] = value
    return data


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    data = read_yaml(path) if path else {}
    return from_dict(cls, apply_overrides(data, overrides or []))


def dump_yaml(cfg, path: str | Path) -> None:
    from ..fileio import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))
