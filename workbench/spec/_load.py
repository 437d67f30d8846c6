"""Loading an experiment spec from YAML, with ``--set`` overrides and errors that point.

Every failure is a :class:`ConfigError` naming the file, the line when known, the field
path (``grid.model[1]``) and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from workbench import _paths
from workbench.errors import ConfigError, did_you_mean
from workbench.spec._models import ExperimentSpec, ModelSpec

SCHEMA_PATH = Path(__file__).with_name("experiment.schema.json")
_UNION_TAGS = {"str", "ModelSpec", "RetrieverSpec", "list[any]", "int", "float", "bool"}


@dataclass(frozen=True)
class SpecSource:
    """A validated spec plus where it came from (relative paths resolve against ``base_dir``)."""

    spec: ExperimentSpec
    base_dir: Path
    path: Path | None = None

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "<spec>"

    def resolve(self, relative: str) -> Path:
        candidate = _paths.expanded(relative)
        return candidate if candidate.is_absolute() else _paths.resolved(self.base_dir / candidate)


def load_spec(
    source: str | Path | Mapping[str, Any] | ExperimentSpec,
    *,
    overrides: Sequence[str] = (),
    base_dir: str | Path | None = None,
) -> SpecSource:
    """Read and validate an experiment from a YAML file, a dict or an ExperimentSpec."""
    path: Path | None = None
    text: str | None = None
    if isinstance(source, ExperimentSpec):
        data: Any = source.model_dump(mode="json", exclude_unset=True)
    elif isinstance(source, Mapping):
        data = dict(source)
    else:
        path = Path(source)
        if not _paths.is_file(path):
            hint = _nearby_specs(path)
            raise ConfigError("experiment file not found", where=path, hint=hint)
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"not UTF-8 text (byte {exc.start}: {exc.reason})", where=path
            ) from None
        try:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"invalid YAML: {problem}", where=where) from None
        except RecursionError:
            raise ConfigError("invalid YAML: nested too deeply to read", where=path) from None
        if not isinstance(data, dict):
            raise ConfigError(
                "an experiment file must be a YAML mapping (name:, dataset:, grid: ...)", where=path
            )
    where = str(path) if path else "<spec>"
    data = apply_overrides(data, overrides, where=where)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, where=where, text=text if not overrides else None) from None
    folder = Path(base_dir) if base_dir else (path.parent if path else Path.cwd())
    folder = folder.resolve()
    return SpecSource(spec=_anchor_model_paths(spec, folder), base_dir=folder, path=path)


def _anchor_model_paths(spec: ExperimentSpec, folder: Path) -> ExperimentSpec:
    """A model's relative ``path:`` (a GGUF file) is relative to the spec file, like the
    dataset, corpus and prompt paths, not to wherever the command was started."""

    def anchored(model: Any) -> Any:
        if not isinstance(model, ModelSpec) or not model.path:
            return model
        given = _paths.expanded(model.path)
        if given.is_absolute():
            return model
        return model.model_copy(update={"path": str(_paths.resolved(folder / given))})

    models = {name: anchored(m) for name, m in spec.models.items()}
    grid_models = [anchored(m) for m in spec.grid.model]
    update: dict[str, Any] = {}
    if models != spec.models:
        update["models"] = models
    if grid_models != list(spec.grid.model):
        update["grid"] = spec.grid.model_copy(update={"model": grid_models})
    if spec.judge is not None and (judge := anchored(spec.judge.model)) != spec.judge.model:
        update["judge"] = spec.judge.model_copy(update={"model": judge})
    return spec.model_copy(update=update) if update else spec


def apply_overrides(
    data: dict[str, Any], overrides: Iterable[str], *, where: str
) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dict copy."""
    result = plain(data, where=where)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"bad override '{item}'", where="--set", hint="write it as field.path=value"
            )
        try:
            value = yaml.safe_load(raw)
        except (yaml.YAMLError, RecursionError):
            value = raw
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"cannot set '{key}': '{part}' is not a section", where="--set")
            node = child
        node[parts[-1]] = value
    return plain(result, where="--set") if overrides else result


# --------------------------------------------------------------------------- plain data

_MAX_DEPTH = 64
_MAX_VALUES = 100_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key repeated in one mapping (YAML forbids it;
    PyYAML would silently keep the last one, hiding e.g. a second ``grid:``)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key '{key_node.value}'",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def plain(data: Any, *, where: str) -> Any:
    """A JSON-like copy of loaded YAML/Python data: text keys (dates, numbers, null become
    text, as in JSON), lists for sequences, text for other scalars (dates, bytes, sets).

    Refuses what no experiment needs and what would break later stages: recursive or
    exponentially aliased structures, nesting deeper than 64, more than 100 000 values,
    and text that is not valid Unicode (lone surrogates cannot be stored or hashed)."""
    count = 0

    def fail(message: str, path: str) -> ConfigError:
        return ConfigError(f"{path or '(top level)'}: {message}", where=where)

    def text(value: str, path: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise fail(
                f"text is not valid Unicode ({exc.reason} at character {exc.start})", path
            ) from None
        return value

    def key_text(key: Any) -> str:
        if isinstance(key, bool) or key is None:
            return json.dumps(key)
        return key if isinstance(key, str) else str(key)

    def copy(value: Any, path: str, depth: int, parents: frozenset[int]) -> Any:
        nonlocal count
        count += 1
        if count > _MAX_VALUES:
            raise fail(
                f"more than {_MAX_VALUES} values (YAML aliases expanding exponentially?)", path
            )
        if depth > _MAX_DEPTH:
            raise fail(f"nested deeper than {_MAX_DEPTH} levels", path)
        if isinstance(value, dict | list | tuple):
            if id(value) in parents:
                raise fail("refers to itself (a recursive YAML alias)", path)
            inner = parents | {id(value)}
            if isinstance(value, dict):
                out: dict[str, Any] = {}
                for key, item in value.items():
                    name = text(key_text(key), path)
                    child = f"{path}.{name}" if path else name
                    out[name] = copy(item, child, depth + 1, inner)
                return out
            return [copy(item, f"{path}[{i}]", depth + 1, inner) for i, item in enumerate(value)]
        if isinstance(value, str):
            return text(value, path)
        if value is None or isinstance(value, bool | int | float):
            return value
        return text(str(value), path)

    return copy(data, "", 0, frozenset())


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the JSON schema editors use to autocomplete experiment files."""
    schema = ExperimentSpec.model_json_schema()
    path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- errors


def _config_error(exc: ValidationError, *, where: str, text: str | None) -> ConfigError:
    found: list[tuple[str, str, str]] = []
    for err in exc.errors():
        loc = [part for part in err["loc"] if not _is_union_tag(part)]
        found.append((_field_path(loc), err["type"], _message(err, loc)))
    # A union (str | ModelSpec) reports one error per branch: when a branch got further
    # (an error deeper in the same field), the "should be a valid string" branch is noise.
    branch_noise = {"string_type", "model_type", "dict_type", "model_attributes_type"}
    kept = [
        (field, msg)
        for field, kind, msg in found
        if kind not in branch_noise
        or not any(other != field and other.startswith(field) for other, _, _ in found)
    ]
    problems: dict[str, list[str]] = {}
    for field, msg in kept:
        problems.setdefault(field, []).append(msg)
    lines = []
    for field, messages in problems.items():
        line = _line_of(text, field) if text else None
        prefix = f"line {line}: " if line else ""
        lines.append(f"{prefix}{field}: {'; '.join(dict.fromkeys(messages))}")
    first, *rest = lines
    message = first if not rest else first + "".join(f"\n  {line}" for line in rest)
    return ConfigError(message, where=where)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in _UNION_TAGS or part.startswith("function-"))


def _field_path(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _message(err: Mapping[str, Any], loc: Sequence[Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        hint = did_you_mean(key, _all_field_names())
        return "unknown field" + (f" ({hint})" if hint else "; remove it")
    if kind == "missing":
        return "required field is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _all_field_names() -> set[str]:
    names: set[str] = set()
    pending: list[type[BaseModel]] = [ExperimentSpec]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            for arg in _classes_in(info.annotation):
                pending.append(arg)
    return names


def _classes_in(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in get_args(annotation):
        found.extend(_classes_in(arg))
    return found


def _line_of(text: str, field: str) -> int | None:
    """1-based line of ``field`` (``grid.model[1]``) in the YAML text, or of its nearest parent."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return None
    import re

    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
        parts.append(int(index) if index else name)
    line = node.start_mark.line + 1 if node is not None else None
    for part in parts:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if k.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _nearby_specs(path: Path) -> str | None:
    folder = path.parent if _paths.is_dir(path.parent) else Path("experiments")
    if not folder.is_dir():
        return None
    names = [p.name for p in folder.glob("*.yaml")]
    hint = did_you_mean(path.name, names)
    if hint:
        return hint
    return f"experiments here: {', '.join(sorted(names))}" if names else None
