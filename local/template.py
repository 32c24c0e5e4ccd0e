"""template.yaml as data: a YAML loader for CloudFormation tags and a resolver for intrinsics.

The local stack reads every resource, route, event source and environment variable from
the template itself; nothing here repeats a resource definition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

_FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(RuntimeError):
    """The template cannot be read or uses something the local stack cannot emulate."""


class Unresolved(LookupError):
    """A reference to a resource that has no local value yet."""

    def __init__(self, logical_id: str) -> None:
        super().__init__(logical_id)
        self.logical_id = logical_id


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref x` into `{"Ref": x}`, `!GetAtt a.b` into `{"Fn::GetAtt": [a, b]}`..."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {f"Fn::{tag_suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}") from None
    data = yaml.load(text, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources")
    return data


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class EventSource:
    name: str
    type: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory_mb: int
    runtime: str
    environment: dict[str, Any]
    events: tuple[EventSource, ...]

    @property
    def module_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def handler_attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    def events_of(self, type_: str) -> list[EventSource]:
        return [event for event in self.events if event.type == type_]


@dataclass
class Template:
    data: dict[str, Any]
    root: Path = REPO_ROOT

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        return cls(load_template(path), path.resolve().parent)

    @property
    def resources(self) -> dict[str, Resource]:
        return {
            logical_id: Resource(logical_id, str(raw.get("Type", "")), dict(raw.get("Properties") or {}))
            for logical_id, raw in self.data["Resources"].items()
        }

    def resources_of(self, *types: str) -> list[Resource]:
        return [resource for resource in self.resources.values() if resource.type in types]

    def parameter_defaults(self) -> dict[str, str]:
        defaults: dict[str, str] = {}
        for name, spec in (self.data.get("Parameters") or {}).items():
            if isinstance(spec, dict) and "Default" in spec:
                defaults[name] = _scalar(spec["Default"])
        return defaults

    def required_parameters(self) -> list[str]:
        return [
            name
            for name, spec in (self.data.get("Parameters") or {}).items()
            if not isinstance(spec, dict) or "Default" not in spec
        ]

    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = ((self.data.get("Globals") or {}).get("Function")) or {}
        result: dict[str, FunctionSpec] = {}
        for resource in self.resources_of(*_FUNCTION_TYPES):
            props = {**globals_, **resource.properties}
            env = {
                **((globals_.get("Environment") or {}).get("Variables") or {}),
                **((resource.properties.get("Environment") or {}).get("Variables") or {}),
            }
            code_uri = props.get("CodeUri") or props.get("Code")
            if not isinstance(code_uri, str):
                raise TemplateError(f"{resource.logical_id}: only a local CodeUri path can run locally")
            events = tuple(
                EventSource(name, str(spec.get("Type")), dict(spec.get("Properties") or {}))
                for name, spec in (props.get("Events") or {}).items()
            )
            result[resource.logical_id] = FunctionSpec(
                logical_id=resource.logical_id,
                code_uri=(self.root / code_uri).resolve(),
                handler=str(props.get("Handler", "app.lambda_handler")),
                timeout=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                runtime=str(props.get("Runtime", "")),
                environment=env,
                events=events,
            )
        return result

    def layer_paths(self) -> list[Path]:
        """Where Lambda would find each layer's packages (ContentUri, per SPEC §2)."""
        paths = []
        for resource in self.resources_of("AWS::Serverless::LayerVersion"):
            content = resource.properties.get("ContentUri")
            if isinstance(content, str):
                paths.append((self.root / content).resolve())
        return paths


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_scalar(v) for v in value)
    return str(value)


@dataclass
class Resolver:
    """Evaluates intrinsic functions against local values.

    `refs` holds what `Ref` returns for parameters, pseudo parameters and created
    resources; `attributes` what `Fn::GetAtt` returns. A reference to a resource of the
    template that has no local value yet raises `Unresolved`.
    """

    template: Template
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(str(arg))
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.refs:
            return self.refs[name]
        if name in self.template.data["Resources"]:
            raise Unresolved(name)
        raise TemplateError(f"Ref to unknown name {name!r}")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        if logical_id in self.template.data["Resources"]:
            raise Unresolved(logical_id)
        raise TemplateError(f"GetAtt on unknown resource {logical_id!r}")

    def _function(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            logical_id, attribute = (arg.split(".", 1) if isinstance(arg, str) else arg)[:2]
            return self._get_att(str(logical_id), str(self.resolve(attribute)))
        if name == "Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return self._sub(str(text), variables)
        if name == "Join":
            separator, items = arg
            return str(separator).join(_scalar(v) for v in self.resolve(items))
        if name == "Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if name == "Split":
            separator, text = self.resolve(arg)
            return str(text).split(str(separator))
        if name == "If":
            raise TemplateError("Fn::If (conditions) is not supported by the local stack")
        if name == "Base64":
            import base64

            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        raise TemplateError(f"Fn::{name} is not supported by the local stack")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return _scalar(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return _scalar(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def iter_http_routes(functions: Mapping[str, FunctionSpec]) -> Iterator[tuple[str, str, str, EventSource]]:
    """(method, path, function logical id, event) for every HttpApi event of every function."""
    for spec in functions.values():
        for event in spec.events_of("HttpApi"):
            method = str(event.properties.get("Method", "ANY")).upper()
            path = str(event.properties.get("Path", "$default"))
            yield (
                ("ANY" if method in {"ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD"} else method),
                path,
                spec.logical_id,
                event,
            )
