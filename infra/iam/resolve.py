"""A small resolver of CloudFormation intrinsic functions, for the IAM parts of a SAM-translated template.

Supports Ref, Fn::GetAtt (list and "Res.Attr" forms), Fn::Sub (string and [string, {vars}] forms, with
pseudo parameters, ${Param}, ${Res}, ${Res.Attr} and ${!Literal}), Fn::Join, Fn::Select, Fn::Split,
Fn::If (with AWS::NoValue), Fn::Equals/And/Or/Not/Condition and Fn::FindInMap. Values come from the
caller (parameters, refs, attributes); `Resolver.for_template` also takes parameter defaults, conditions
and mappings from the template and derives Ref/GetAtt of common resource types from physical names.
Anything it cannot resolve raises `Unresolvable` naming the path of the value in the template.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from infra.iam.mapping import Target


class Unresolvable(ValueError):
    """An intrinsic function or reference the resolver has no value for; the message names the path."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

PhysicalNames = Mapping[str, str] | Callable[[str], str | None]

# Resource type → (property holding an explicit name, or None)
_NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::SSM::Parameter": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::Lambda::Alias": "Name",
}


class Resolver:
    """Resolves intrinsic functions against given values.

    `parameters`: template parameter → value. `refs`: logical id → what `Ref` gives. `attributes`:
    "LogicalId.Attribute" → what `Fn::GetAtt` gives. `conditions`: condition name → bool or a condition
    expression. `mappings`: the template's Mappings. `template`: when given (see `for_template`), Ref and
    GetAtt of a resource not in refs/attributes are derived from its type and physical name.
    """

    def __init__(self, target: Target, stack_name: str, *,
                 parameters: Mapping[str, Any] | None = None,
                 refs: Mapping[str, Any] | None = None,
                 attributes: Mapping[str, Any] | None = None,
                 conditions: Mapping[str, Any] | None = None,
                 mappings: Mapping[str, Any] | None = None,
                 template: Mapping[str, Any] | None = None,
                 physical_names: PhysicalNames | None = None) -> None:
        self.target = target
        self.stack_name = stack_name
        self.parameters = dict(parameters or {})
        self.refs = dict(refs or {})
        self.attributes = dict(attributes or {})
        self.conditions = dict(conditions or {})
        self.mappings = dict(mappings or {})
        self.template = template
        self.physical_names = physical_names

    @classmethod
    def for_template(cls, template: Mapping[str, Any], target: Target, stack_name: str, *,
                     parameters: Mapping[str, Any] | None = None,
                     physical_names: PhysicalNames | None = None,
                     refs: Mapping[str, Any] | None = None,
                     attributes: Mapping[str, Any] | None = None) -> Resolver:
        """A resolver for `template` as deployed as `stack_name` in `target`.

        Parameters default to the template's Defaults. A resource's physical name is, in order:
        `physical_names` (a dict or a function returning None for "don't know"), its explicit name property
        (TableName, QueueName, ...), or `<stack_name>-<LogicalId>`. Passing the names the test run
        created (e.g. `infra.resources.physical_name(prefix, logical_id)`, or stack_name=prefix, which
        gives the same names) makes the resolved policies name the test run's resources.
        """
        values: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if "Default" in spec:
                default = spec["Default"]
                if str(spec.get("Type", "")).startswith("CommaDelimitedList") or str(spec.get("Type", "")).startswith(
                        "List<"):
                    default = [part.strip() for part in str(default).split(",")]
                values[name] = default
        values.update(parameters or {})
        return cls(target, stack_name, parameters=values, refs=refs, attributes=attributes,
                   conditions=template.get("Conditions") or {}, mappings=template.get("Mappings") or {},
                   template=template, physical_names=physical_names)

    # ------------------------------------------------------------------------------------------ API

    def resolve(self, value: Any, path: str = "$") -> Any:
        """`value` with every intrinsic function replaced by its value (AWS::NoValue removes the item)."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                (key, arg), = value.items()
                if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                    return self._intrinsic(key, arg, f"{path}.{key}")
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item, f"{path}.{key}")
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            items = [self.resolve(item, f"{path}[{i}]") for i, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        return value

    def ref(self, name: str, path: str = "$") -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        return self._derived(name, None, path)

    def get_att(self, logical_id: str, attribute: str, path: str = "$") -> Any:
        key = f"{logical_id}.{attribute}"
        if key in self.attributes:
            return self.attributes[key]
        return self._derived(logical_id, attribute, path)

    def condition(self, name: str, path: str = "$") -> bool:
        if name not in self.conditions:
            raise Unresolvable(f"{path}: unknown condition {name!r}")
        value = self.conditions[name]
        return value if isinstance(value, bool) else self._truth(value, f"Conditions.{name}")

    # ------------------------------------------------------------------------------------ internals

    def _pseudo(self, name: str) -> Any:
        t = self.target
        return {
            "AWS::Partition": t.partition,
            "AWS::Region": t.region,
            "AWS::AccountId": t.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{t.partition}:cloudformation:{t.region}:{t.account_id}:stack/{self.stack_name}/id",
            "AWS::URLSuffix": t.dns_suffix,
            "AWS::NoValue": NO_VALUE,
        }.get(name)

    def _truth(self, value: Any, path: str) -> bool:
        resolved = self.resolve(value, path)
        if isinstance(resolved, bool):
            return resolved
        if isinstance(resolved, str) and resolved.lower() in ("true", "false"):
            return resolved.lower() == "true"
        raise Unresolvable(f"{path}: not a condition value: {resolved!r}")

    def _intrinsic(self, key: str, arg: Any, path: str) -> Any:
        if key == "Ref":
            return self.ref(self.text(arg, path), path)
        if key == "Fn::GetAtt":
            if isinstance(arg, str):
                logical_id, _, attribute = arg.partition(".")
            elif isinstance(arg, list) and len(arg) == 2:
                logical_id, attribute = self.text(arg[0], path), self.text(arg[1], path)
            else:
                raise Unresolvable(f"{path}: malformed Fn::GetAtt {arg!r}")
            return self.get_att(logical_id, attribute, path)
        if key == "Fn::Sub":
            return self._sub(arg, path)
        if key == "Fn::Join":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise Unresolvable(f"{path}: malformed Fn::Join {arg!r}")
            delimiter = self.text(arg[0], path)
            items = self._list(arg[1], f"{path}[1]")
            return delimiter.join(self.text(item, f"{path}[1][{i}]") for i, item in enumerate(items))
        if key == "Fn::Select":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise Unresolvable(f"{path}: malformed Fn::Select {arg!r}")
            index = int(self.text(self.resolve(arg[0], f"{path}[0]"), path))
            items = self._list(arg[1], f"{path}[1]")
            if not 0 <= index < len(items):
                raise Unresolvable(f"{path}: index {index} out of range for {items!r}")
            return items[index]
        if key == "Fn::Split":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise Unresolvable(f"{path}: malformed Fn::Split {arg!r}")
            return self.text(self.resolve(arg[1], f"{path}[1]"), path).split(self.text(arg[0], path))
        if key == "Fn::If":
            if not (isinstance(arg, list) and len(arg) == 3):
                raise Unresolvable(f"{path}: malformed Fn::If {arg!r}")
            chosen = 1 if self.condition(self.text(arg[0], path), path) else 2
            return self.resolve(arg[chosen], f"{path}[{chosen}]")
        if key == "Fn::Equals":
            left, right = (self.resolve(v, f"{path}[{i}]") for i, v in enumerate(arg))
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truth(arg[0], f"{path}[0]")
        if key == "Fn::And":
            return all(self._truth(v, f"{path}[{i}]") for i, v in enumerate(arg))
        if key == "Fn::Or":
            return any(self._truth(v, f"{path}[{i}]") for i, v in enumerate(arg))
        if key == "Condition":
            return self.condition(self.text(arg, path), path)
        if key == "Fn::FindInMap":
            names = [self.text(self.resolve(v, f"{path}[{i}]"), path) for i, v in enumerate(arg[:3])]
            try:
                return self.mappings[names[0]][names[1]][names[2]]
            except KeyError as exc:
                raise Unresolvable(f"{path}: no mapping value {names}") from exc
        raise Unresolvable(f"{path}: {key} is not supported")

    def text(self, value: Any, path: str = "$") -> str:
        """`value` resolved, which must give a string (numbers are turned into text)."""
        resolved = self.resolve(value, path)
        if isinstance(resolved, bool) or not isinstance(resolved, str | int | float):
            raise Unresolvable(f"{path}: expected a string, got {resolved!r}")
        return str(resolved)

    def _list(self, value: Any, path: str) -> list[Any]:
        resolved = self.resolve(value, path)
        if not isinstance(resolved, list):
            raise Unresolvable(f"{path}: expected a list, got {resolved!r}")
        return resolved

    def _sub(self, arg: Any, path: str) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], Mapping):
            text = arg[0]
            variables = {name: self.text(v, f"{path}[1].{name}") for name, v in arg[1].items()}
        else:
            raise Unresolvable(f"{path}: malformed Fn::Sub {arg!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return variables[name]
            where = f"{path}:${{{name}}}"
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return self.text(self.get_att(logical_id, attribute, where), where)
            return self.text(self.ref(name, where), where)

        return _SUB_VARIABLE.sub(replace, text)

    # ----------------------------------------------------------------- Ref/GetAtt from physical names

    def _resource(self, logical_id: str, path: str) -> Mapping[str, Any]:
        resources = (self.template or {}).get("Resources") or {}
        if logical_id not in resources:
            raise Unresolvable(f"{path}: no value for {logical_id!r} (not a parameter, not given, "
                               f"{'not in the template' if self.template else 'no template'})")
        resource: Mapping[str, Any] = resources[logical_id]
        return resource

    def physical_name(self, logical_id: str, path: str = "$") -> str:
        """The name a resource has: from physical_names, its name property, or <stack>-<LogicalId>."""
        if self.physical_names is not None:
            if isinstance(self.physical_names, Mapping):
                named = self.physical_names.get(logical_id)
            else:
                named = self.physical_names(logical_id)
            if named is not None:
                return named
        resource = self._resource(logical_id, path)
        prop = _NAME_PROPERTY.get(str(resource.get("Type")))
        props = resource.get("Properties") or {}
        if prop and props.get(prop) is not None:
            return self.text(props[prop], f"Resources.{logical_id}.Properties.{prop}")
        return f"{self.stack_name}-{logical_id}"

    def _derived(self, logical_id: str, attribute: str | None, path: str) -> Any:
        resource = self._resource(logical_id, path)
        kind = str(resource.get("Type"))
        props = resource.get("Properties") or {}
        t = self.target
        what = f"Fn::GetAtt {logical_id}.{attribute}" if attribute else f"Ref {logical_id}"

        def name() -> str:
            return self.physical_name(logical_id, path)

        values: dict[str | None, Callable[[], Any]]
        if kind == "AWS::DynamoDB::Table":
            values = {None: name, "Arn": lambda: t.arn("dynamodb", f"table/{name()}")}
        elif kind == "AWS::SQS::Queue":
            def url() -> str:
                return f"https://sqs.{t.region}.{t.dns_suffix}/{t.account_id}/{name()}"
            values = {None: url, "QueueUrl": url, "QueueName": name, "Arn": lambda: t.arn("sqs", name())}
        elif kind == "AWS::SNS::Topic":
            def topic() -> str:
                return t.arn("sns", name())
            values = {None: topic, "TopicArn": topic, "TopicName": name}
        elif kind == "AWS::Lambda::Function":
            values = {None: name, "Arn": lambda: t.arn("lambda", f"function:{name()}")}
        elif kind == "AWS::Lambda::Alias":
            def alias() -> str:
                fn = self.text(props.get("FunctionName"), f"Resources.{logical_id}.Properties.FunctionName")
                fn_arn = fn if fn.startswith("arn:") else t.arn("lambda", f"function:{fn}")
                return f"{fn_arn}:{self.text(props.get('Name'), f'Resources.{logical_id}.Properties.Name')}"
            values = {None: alias}
        elif kind == "AWS::IAM::Role":
            def role() -> str:
                role_path = self.text(props.get("Path", "/"), f"Resources.{logical_id}.Properties.Path")
                return t.arn("iam", f"role{role_path}{name()}", region=False)
            values = {None: name, "Arn": role}
        elif kind == "AWS::IAM::ManagedPolicy":
            def policy() -> str:
                policy_path = self.text(props.get("Path", "/"), f"Resources.{logical_id}.Properties.Path")
                return t.arn("iam", f"policy{policy_path}{name()}", region=False)
            values = {None: policy, "PolicyArn": policy}
        elif kind == "AWS::Logs::LogGroup":
            values = {None: name, "Arn": lambda: t.arn("logs", f"log-group:{name()}:*")}
        elif kind == "AWS::S3::Bucket":
            values = {None: name, "Arn": lambda: t.arn("s3", name(), region=False, account=False)}
        elif kind == "AWS::Scheduler::Schedule":
            def schedule() -> str:
                group = self.text(props.get("GroupName", "default"), f"Resources.{logical_id}.Properties.GroupName")
                return t.arn("scheduler", f"schedule/{group}/{name()}")
            values = {None: name, "Arn": schedule}
        elif kind == "AWS::Scheduler::ScheduleGroup":
            values = {None: name, "Arn": lambda: t.arn("scheduler", f"schedule-group/{name()}")}
        elif kind == "AWS::SSM::Parameter":
            values = {None: name}
        elif kind == "AWS::Events::EventBus":
            values = {None: name, "Name": name, "Arn": lambda: t.arn("events", f"event-bus/{name()}")}
        else:
            raise Unresolvable(f"{path}: {what}: no value given and {kind} is not derived; pass it in refs/attributes")
        if attribute not in values:
            raise Unresolvable(f"{path}: {what}: {kind} attribute not derived; pass it in attributes")
        return values[attribute]()
