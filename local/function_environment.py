"""How a template function is set up to run locally: the environment Lambda would give it, resolved
against the provisioned resources and pointed at the local services, and its `FunctionRuntime`."""

from __future__ import annotations

import os
from typing import Any

from local.account import ACCOUNT_ID, STACK_NAME, local_aws_environment, region
from local.lambda_runtime import FunctionRuntime
from local.provision import LocalStackResources
from local.template import FunctionSpec, Resolver, Template

# Function environment variables that may be overridden from the shell that starts the stack
# (short escalation timings for demos, template mode, log level...).
ENV_OVERRIDABLE = (
    "ESCALATION_AFTER_SECONDS",
    "ESCALATION_MAX_ROUNDS",
    "CONFIRM_AFTER_SECONDS",
    "CONFIRM_MAX_ROUNDS",
    "CONFIRM_TEMPLATE_NAME",
    "ALERT_TEMPLATE_NAME",
    "ALERT_TEMPLATE_LANGUAGE",
    "ALERT_TEMPLATE_PARAMS",
    "NOTICE_TEMPLATE_NAME",
    "DISPLAY_TIMEZONE",
    "DEFAULT_PHONE_REGION",
    "RETENTION_DAYS",
    "LOG_LEVEL",
    "SEND_DEADLINE_MS",
    "SECRET_MAX_AGE_SECONDS",
    "POWERTOOLS_METRICS_DISABLED",
)


# The desk's sign-in (Cognito) has no local emulation: the local stack serves the desk without
# sign-in (SPEC §13), as the page does when these are empty.
LOCAL_WITHOUT = ("DESK_AUTH_DOMAIN", "DESK_CLIENT_ID", "DESK_REDIRECT_URI", "DESK_LOGOUT_URI")


def local_function_runtime(
    spec: FunctionSpec, *, instances: int = 1, freeze_heap: bool = False
) -> FunctionRuntime:
    """A template function as the local stack runs it: `<stack>-<LogicalId>` in the local account."""
    return FunctionRuntime(
        spec,
        function_name=f"{STACK_NAME}-{spec.logical_id}",
        region=region(),
        account_id=ACCOUNT_ID,
        instances=instances,
        freeze_heap=freeze_heap,
    )


def function_environment(
    template: Template,
    resources: LocalStackResources,
    logical_id: str,
    *,
    endpoint_url: str | None,
    woosh_base_url: str | None,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment Lambda would give the function, pointed at the local services."""
    spec = template.functions()[logical_id]
    resolver = Resolver(template, dict(resources.refs), dict(resources.attributes))
    env = {name: _env_value(resolver.resolve(value)) for name, value in spec.environment.items()}
    env.update(local_aws_environment(endpoint_url))
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": f"{STACK_NAME}-{logical_id}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        }
    )
    if woosh_base_url:
        env["WOOSH_BASE_URL"] = woosh_base_url
    for name in LOCAL_WITHOUT:
        env.pop(name, None)
    for name in ENV_OVERRIDABLE:
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update(overrides or {})
    return env


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
