"""Every function of template.yaml has its Errors and Throttles alarms, as `make alarms` writes them."""

from __future__ import annotations

from local.alarms import regenerate, template_functions
from local.template import REPO_ROOT, Template

TEMPLATE = REPO_ROOT / "template.yaml"


def test_the_generated_alarms_are_up_to_date_for_every_function() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert regenerate(text, template_functions(TEMPLATE)) == text, "run `make alarms`"


def test_each_function_has_an_errors_and_a_throttles_alarm_on_itself() -> None:
    template = Template.load(TEMPLATE)
    watched: dict[str, set[str]] = {}
    for resource in template.resources_of("AWS::CloudWatch::Alarm"):
        props = resource.properties
        if props.get("Namespace") != "AWS/Lambda":
            continue
        [dimension] = props["Dimensions"]
        watched.setdefault(str(dimension["Value"]["Ref"]), set()).add(props["MetricName"])
    assert set(template.functions()) == set(watched)
    assert all({"Errors", "Throttles"} <= metrics for metrics in watched.values()), watched
