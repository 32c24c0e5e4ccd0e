"""Create the template's AWS resources in moto (server or in-process): `Provisioner`, `LocalStackResources`.

Tables (GSIs, TTL, streams), queues (redrive, policies), the secret (seeded with the local
values), event buses, connections, API destinations, archives and rules come from
template.yaml. Physical names are deterministic: the template's own name property resolved
with the stack name `lift-alerts-local`, else `lift-alerts-local-<LogicalId>`. Resources
moto cannot emulate (IAM, logs, alarms, the API, functions, layers) get placeholder values
so references to them still resolve. The functions' environments over these resources are
`local.function_environment`; the stack name, region, account and secret are `local.account`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.account import ACCOUNT_ID, DEFAULT_REGION, LOCAL_SECRET_VALUES, STACK_NAME, AwsClients, region
from local.template import Resolver, Resource, Template, TemplateError, Unresolved

EVENTS_QUEUE_NAME = f"{STACK_NAME}-events"
EVENTS_RULE_NAME = f"{STACK_NAME}-copy-all-events"

# Values for template parameters without a default (the local stack never calls these).
LOCAL_PARAMETER_VALUES: dict[str, str] = {
    "TicketingEndpoint": "https://ticketing.example.invalid/lift-alerts",
    "TicketingApiKeyValue": "local-ticketing-key",
    "AlarmTopicArn": f"arn:aws:sns:{DEFAULT_REGION}:{ACCOUNT_ID}:{STACK_NAME}-alarms",
    # The desk's sign-in (not emulated: the local stack serves the desk without it).
    "DeskDomainPrefix": "lift-alerts-local",
    "DeskCallbackUrl": "https://desk.example.invalid/desk",
    "DeskLogoutUrl": "https://desk.example.invalid/desk",
}

_PLACEHOLDER_SERVICES = {
    "AWS::IAM::Role": ("iam", "role"),
    "AWS::IAM::ManagedPolicy": ("iam", "policy"),
    "AWS::Logs::LogGroup": ("logs", "log-group"),
    "AWS::Serverless::Function": ("lambda", "function"),
    "AWS::Lambda::Function": ("lambda", "function"),
    "AWS::Serverless::LayerVersion": ("lambda", "layer"),
    "AWS::SNS::Topic": ("sns", ""),
}


@dataclass
class LocalStackResources:
    """What was created: Ref and GetAtt values by logical id, plus the local events queue."""

    refs: dict[str, str]
    attributes: dict[tuple[str, str], str]
    types: dict[str, str]
    events_queue_url: str | None = None

    def ref(self, logical_id: str) -> str:
        return self.refs[logical_id]

    def attribute(self, logical_id: str, name: str) -> str:
        return self.attributes[(logical_id, name)]

    def of_type(self, type_: str) -> list[str]:
        return [logical_id for logical_id, t in self.types.items() if t == type_]

    def table_for_stream_arn(self, stream_arn: str) -> str | None:
        for logical_id in self.of_type("AWS::DynamoDB::Table"):
            if self.attributes.get((logical_id, "StreamArn")) == stream_arn:
                return self.refs[logical_id]
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "refs": self.refs,
            "attributes": {f"{k[0]}.{k[1]}": v for k, v in self.attributes.items()},
            "types": self.types,
            "events_queue_url": self.events_queue_url,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LocalStackResources:
        attributes = {tuple(k.split(".", 1)): v for k, v in data["attributes"].items()}
        return cls(data["refs"], attributes, data["types"], data.get("events_queue_url"))


def base_refs(template: Template, parameters: dict[str, str] | None = None) -> dict[str, str]:
    refs = {
        "AWS::StackName": STACK_NAME,
        "AWS::Region": region(),
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackId": f"arn:aws:cloudformation:{region()}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
        "AWS::NotificationARNs": "",
    }
    refs.update(LOCAL_PARAMETER_VALUES)
    refs.update(template.parameter_defaults())
    refs.update(parameters or {})
    return refs


class Provisioner:
    def __init__(
        self, template: Template, clients: AwsClients, *, parameters: dict[str, str] | None = None
    ) -> None:
        self.template = template
        self.clients = clients
        self.resolver = Resolver(template, base_refs(template, parameters))
        self._types: dict[str, str] = {}
        self._creators: dict[str, Callable[[Resource, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Events::EventBus": self._bus,
            "AWS::Events::Archive": self._archive,
            "AWS::Events::Connection": self._connection,
            "AWS::Events::ApiDestination": self._api_destination,
            "AWS::Events::Rule": self._rule,
            "AWS::CloudWatch::Alarm": self._alarm,
        }

    def provision(self, *, events_queue: bool = True) -> LocalStackResources:
        pending = list(self.template.resources.values())
        for _round in range(len(pending) + 1):
            if not pending:
                break
            deferred: list[Resource] = []
            for resource in pending:
                try:
                    self._create(resource)
                except Unresolved:
                    deferred.append(resource)
            if len(deferred) == len(pending):
                names = ", ".join(r.logical_id for r in deferred)
                raise TemplateError(f"circular or unresolvable references between: {names}")
            pending = deferred
        result = LocalStackResources(self.resolver.refs, self.resolver.attributes, self._types)
        if events_queue:
            result.events_queue_url = self._events_queue()
        return result

    def _create(self, resource: Resource) -> None:
        creator = self._creators.get(resource.type)
        if creator is not None:
            properties = self.resolver.resolve(resource.properties)
            creator(resource, properties)
        else:
            self._placeholder(resource)
        self._types[resource.logical_id] = resource.type

    def _name(self, resource: Resource, properties: dict[str, Any], key: str) -> str:
        value = properties.get(key)
        return str(value) if value else f"{STACK_NAME}-{resource.logical_id}"

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.clients.region_name}:{ACCOUNT_ID}:{resource}"

    def _set(self, logical_id: str, ref: str, **attributes: str) -> None:
        self.resolver.refs[logical_id] = ref
        for name, value in attributes.items():
            self.resolver.attributes[(logical_id, name)] = value

    # -- resource types --------------------------------------------------------------------

    def _placeholder(self, resource: Resource) -> None:
        name = f"{STACK_NAME}-{resource.logical_id}"
        service, kind = _PLACEHOLDER_SERVICES.get(resource.type, ("local", "resource"))
        arn = self._arn(service, f"{kind}/{name}" if kind else name)
        if service == "iam":
            arn = f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{name}"
        self._set(resource.logical_id, arn if resource.type in {"AWS::IAM::ManagedPolicy"} else name, Arn=arn)

    def _table(self, resource: Resource, props: dict[str, Any]) -> None:
        name = self._name(resource, props, "TableName")
        description = create_table(self.clients.client("dynamodb"), name, props)
        attributes = {"Arn": description["TableArn"]}
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = description["LatestStreamArn"]
        self._set(resource.logical_id, name, **attributes)

    def _queue(self, resource: Resource, props: dict[str, Any]) -> None:
        sqs = self.clients.client("sqs")
        name = self._name(resource, props, "QueueName")
        if props.get("FifoQueue") and not name.endswith(".fifo"):
            name += ".fifo"
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "FifoQueue",
            "ContentBasedDeduplication",
            "SqsManagedSseEnabled",
        ):
            if key in props:
                value = props[key]
                attributes[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                attributes[key] = json.dumps(props[key]) if not isinstance(props[key], str) else props[key]
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self._set(resource.logical_id, url, Arn=self._arn("sqs", name), QueueName=name, QueueUrl=url)

    def _queue_policy(self, resource: Resource, props: dict[str, Any]) -> None:
        sqs = self.clients.client("sqs")
        for url in props.get("Queues", []):
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        self._set(resource.logical_id, f"{STACK_NAME}-{resource.logical_id}")

    def _secret(self, resource: Resource, props: dict[str, Any]) -> None:
        secrets = self.clients.client("secretsmanager")
        name = self._name(resource, props, "Name")
        kwargs: dict[str, Any] = {"Name": name, "SecretString": json.dumps(LOCAL_SECRET_VALUES)}
        if props.get("Description"):
            kwargs["Description"] = str(props["Description"])[:2048]
        arn = secrets.create_secret(**kwargs)["ARN"]
        self._set(resource.logical_id, arn, Id=arn)

    def _bus(self, resource: Resource, props: dict[str, Any]) -> None:
        events = self.clients.client("events")
        name = self._name(resource, props, "Name")
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        self._set(resource.logical_id, name, Arn=arn, Name=name)

    def _archive(self, resource: Resource, props: dict[str, Any]) -> None:
        events = self.clients.client("events")
        name = self._name(resource, props, "ArchiveName")
        kwargs: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        if props.get("EventPattern"):
            kwargs["EventPattern"] = _json_text(props["EventPattern"])
        if "RetentionDays" in props:
            kwargs["RetentionDays"] = int(props["RetentionDays"])
        arn = events.create_archive(**kwargs)["ArchiveArn"]
        self._set(resource.logical_id, name, Arn=arn, ArchiveName=name)

    def _connection(self, resource: Resource, props: dict[str, Any]) -> None:
        events = self.clients.client("events")
        name = self._name(resource, props, "Name")
        arn = events.create_connection(
            Name=name,
            AuthorizationType=props["AuthorizationType"],
            AuthParameters=props["AuthParameters"],
            **_present(props, "Description"),
        )["ConnectionArn"]
        self._set(
            resource.logical_id, name, Arn=arn, SecretArn=self._arn("secretsmanager", f"secret:events!{name}")
        )

    def _api_destination(self, resource: Resource, props: dict[str, Any]) -> None:
        events = self.clients.client("events")
        name = self._name(resource, props, "Name")
        kwargs: dict[str, Any] = {
            "Name": name,
            "ConnectionArn": props["ConnectionArn"],
            "InvocationEndpoint": props["InvocationEndpoint"],
            "HttpMethod": props["HttpMethod"],
            **_present(props, "Description"),
        }
        if "InvocationRateLimitPerSecond" in props:
            kwargs["InvocationRateLimitPerSecond"] = int(props["InvocationRateLimitPerSecond"])
        arn = events.create_api_destination(**kwargs)["ApiDestinationArn"]
        self._set(resource.logical_id, name, Arn=arn)

    def _rule(self, resource: Resource, props: dict[str, Any]) -> None:
        events = self.clients.client("events")
        name = self._name(resource, props, "Name")
        bus = props.get("EventBusName", "default")
        kwargs: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if props.get("EventPattern"):
            kwargs["EventPattern"] = _json_text(props["EventPattern"])
        kwargs.update(_present(props, "ScheduleExpression", "Description"))
        arn = events.put_rule(**kwargs)["RuleArn"]
        targets = [_target(target) for target in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        self._set(resource.logical_id, name, Arn=arn)

    def _alarm(self, resource: Resource, props: dict[str, Any]) -> None:
        """A metric alarm as CloudFormation names one without AlarmName (`<stack>-<LogicalId>`,
        without the random suffix), so `GET /status` finds the stack's alarms by that prefix."""
        name = self._name(resource, props, "AlarmName")
        keys = (
            "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "Period",
            "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData",
        )  # fmt: skip
        alarm = {key: props[key] for key in keys if key in props}
        for key in ("Period", "EvaluationPeriods"):
            if key in alarm:
                alarm[key] = int(alarm[key])
        if "Threshold" in alarm:
            alarm["Threshold"] = float(alarm["Threshold"])
        self.clients.client("cloudwatch").put_metric_alarm(AlarmName=name, ActionsEnabled=False, **alarm)
        self._set(resource.logical_id, name, Arn=self._arn("cloudwatch", f"alarm:{name}"))

    def _events_queue(self) -> str:
        """A local queue receiving a copy of every event on every bus of the template."""
        sqs = self.clients.client("sqs")
        events = self.clients.client("events")
        url = sqs.create_queue(QueueName=EVENTS_QUEUE_NAME)["QueueUrl"]
        arn = self._arn("sqs", EVENTS_QUEUE_NAME)
        for logical_id, type_ in self._types.items():
            if type_ != "AWS::Events::EventBus":
                continue
            bus = self.resolver.refs[logical_id]
            events.put_rule(
                Name=EVENTS_RULE_NAME,
                EventBusName=bus,
                EventPattern=json.dumps({"account": [ACCOUNT_ID]}),
                State="ENABLED",
                Description="Local stack: copy every event to the local events queue",
            )
            events.put_targets(
                Rule=EVENTS_RULE_NAME, EventBusName=bus, Targets=[{"Id": "local-events", "Arn": arn}]
            )
        return str(url)


def create_table(ddb: Any, name: str, props: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB table as the template's (resolved) properties define it; its description."""
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if kwargs["BillingMode"] == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            kwargs[key] = props[key]
    stream = props.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    if props.get("SSESpecification"):
        kwargs["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
    description = ddb.create_table(**kwargs)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    return dict(description)


def _present(props: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The optional properties the template sets (an empty one is left out, as CloudFormation does)."""
    return {key: props[key] for key in keys if props.get(key)}


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _target(target: dict[str, Any]) -> dict[str, Any]:
    allowed = (
        "Id",
        "Arn",
        "RoleArn",
        "Input",
        "InputPath",
        "InputTransformer",
        "RetryPolicy",
        "DeadLetterConfig",
        "SqsParameters",
        "HttpParameters",
    )
    return {key: target[key] for key in allowed if key in target}
