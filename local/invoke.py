"""`python -m local.invoke FunctionLogicalId -e events/x.json [--env-vars env.json] [--in-process]`.

What `sam local invoke` does, without a container: the function and its handler come from
template.yaml, the event file is passed as is, the env-vars file has the same format
(`{"Parameters": {...}}` for every function, `{"FunctionLogicalId": {...}}` for one; only
variables the template declares are overridden). The handler runs in this process against
the running local stack (`make local`), or against moto in this process (`--in-process`,
with a stand-in Woosh unless WOOSH_BASE_URL is set). Function logs go to stderr, the
response (JSON) to stdout, as with sam.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local.account import LOCAL_SECRET_VALUES, AwsClients, local_aws_environment
from local.function_environment import function_environment, local_function_runtime
from local.lambda_runtime import FunctionRuntime, add_layers_to_path, apply_environment, error_payload
from local.provision import LocalStackResources, Provisioner
from local.template import Template, TemplateError

STATE_FILE = Path(__file__).resolve().parent / ".state" / "stack.json"


class InvokeError(RuntimeError):
    pass


def read_env_vars(path: Path | None, logical_id: str, declared: set[str]) -> dict[str, str]:
    """The overrides `sam local invoke --env-vars` would apply to this function."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvokeError(f"cannot read env-vars file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InvokeError(f"env-vars file {path} must hold a JSON object")
    overrides: dict[str, str] = {}
    for section in ("Parameters", logical_id):
        values = data.get(section) or {}
        if not isinstance(values, dict):
            raise InvokeError(f"env-vars file {path}: {section} must be an object")
        for name, value in values.items():
            if name not in declared:
                print(f"[local] env-vars: {name} is not declared by {logical_id}; ignored", file=sys.stderr)
                continue
            overrides[name] = "" if value is None else str(value)
    return overrides


def read_event(source: str | None) -> dict[str, Any]:
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        event = json.loads(text)
    except (OSError, ValueError) as exc:
        raise InvokeError(f"cannot read event {source}: {exc}") from None
    if not isinstance(event, dict):
        raise InvokeError(f"event {source} must be a JSON object")
    return event


def _require_function(template: Template, logical_id: str) -> None:
    functions = template.functions()
    if logical_id not in functions:
        raise InvokeError(
            f"{logical_id} is not a function of the template (functions: {', '.join(functions)})"
        )


def _declared(template: Template, logical_id: str) -> set[str]:
    return set(template.functions()[logical_id].environment)


class Invoker:
    """Runs template functions in this process with the local environment applied."""

    def __init__(
        self,
        template: Template,
        resources: LocalStackResources,
        *,
        endpoint_url: str | None,
        woosh_base_url: str | None,
    ) -> None:
        self.template = template
        self.resources = resources
        self.endpoint_url = endpoint_url
        self.woosh_base_url = woosh_base_url
        self._runtimes: dict[str, FunctionRuntime] = {}
        add_layers_to_path(template)

    def environment(self, logical_id: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
        return function_environment(
            self.template,
            self.resources,
            logical_id,
            endpoint_url=self.endpoint_url,
            woosh_base_url=self.woosh_base_url,
            overrides=overrides,
        )

    def runtime(self, logical_id: str) -> FunctionRuntime:
        functions = self.template.functions()
        if logical_id not in functions:
            known = ", ".join(sorted(functions))
            raise InvokeError(f"{logical_id} is not a function of the template (functions: {known})")
        if logical_id not in self._runtimes:
            self._runtimes[logical_id] = local_function_runtime(functions[logical_id])
        return self._runtimes[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any], overrides: dict[str, str] | None = None) -> Any:
        runtime = self.runtime(logical_id)
        apply_environment(self.environment(logical_id, overrides))
        return runtime.invoke(event)


def _running_stack() -> dict[str, Any]:
    try:
        info: dict[str, Any] = json.loads(STATE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InvokeError(
            "no local stack is running (start it with `make local`), or use --in-process"
        ) from None
    import requests

    try:
        requests.get(info["aws_endpoint"], timeout=2)
    except requests.RequestException:
        raise InvokeError(
            f"the local stack in {STATE_FILE} does not answer at {info['aws_endpoint']}; start `make local`"
        ) from None
    return info


@contextlib.contextmanager
def in_process_invoker(template: Template | None = None) -> Iterator[Invoker]:
    """moto in this process with the template's resources and a stand-in Woosh (unless WOOSH_BASE_URL)."""
    from moto import mock_aws

    from local.moto_atomic import prepare_moto
    from local.woosh_standin import WooshStandIn

    template = template or Template.load()
    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    apply_environment(local_aws_environment(None))
    prepare_moto()
    woosh: WooshStandIn | None = None
    try:
        with mock_aws():
            resources = Provisioner(template, AwsClients(None)).provision()
            woosh_url = os.environ.get("WOOSH_BASE_URL", "").strip() or None
            if woosh_url is None:
                woosh = WooshStandIn(
                    api_key=LOCAL_SECRET_VALUES["woosh_api_key"],
                    webhook_secret=LOCAL_SECRET_VALUES["webhook_secret"],
                ).start()
                woosh_url = woosh.base_url
            yield Invoker(template, resources, endpoint_url=None, woosh_base_url=woosh_url)
    finally:
        if woosh is not None:
            woosh.stop()
        os.environ.clear()
        os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.invoke", description="Invoke a template function like `sam local invoke`."
    )
    parser.add_argument("function", help="logical id of the function in template.yaml, e.g. SendFunction")
    parser.add_argument("-e", "--event", help="event file (JSON), or - for stdin; default {}")
    parser.add_argument("-n", "--env-vars", type=Path, help="env-vars file, as for sam local invoke")
    parser.add_argument(
        "--in-process", action="store_true", help="use moto in this process, not a running stack"
    )
    parser.add_argument("-t", "--template", type=Path, help="template file (default template.yaml)")
    args = parser.parse_args(argv)

    try:
        template = Template.load(args.template) if args.template else Template.load()
        event = read_event(args.event)
        _require_function(template, args.function)
        overrides = read_env_vars(args.env_vars, args.function, _declared(template, args.function))
        with contextlib.ExitStack() as stack:
            if args.in_process:
                invoker = stack.enter_context(in_process_invoker(template))
            else:
                info = _running_stack()
                apply_environment(local_aws_environment(info["aws_endpoint"]))
                invoker = Invoker(
                    template,
                    LocalStackResources.from_json(info["resources"]),
                    endpoint_url=info["aws_endpoint"],
                    woosh_base_url=info["woosh_url"],
                )
            # Function output (Powertools logs, metrics) goes to stderr, the response to stdout.
            with contextlib.redirect_stdout(sys.stderr):
                try:
                    result = invoker.invoke(args.function, event, overrides)
                except Exception as exc:
                    failure: dict[str, Any] | None = error_payload(exc)
                else:
                    failure = None
    except (InvokeError, TemplateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if failure is not None:
        print(json.dumps(failure))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
