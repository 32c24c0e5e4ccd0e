"""Approved template shapes and the checks Meta makes on a template send (SPEC §5 "Templates")."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.woosh.errors import Rejected

DEFAULT_TEMPLATE_BUTTON_TEXTS = ("Test", "Maintenance", "Entrapment")
# A template sent without `language.code` is taken as this by the Bridge.
BRIDGE_DEFAULT_LANGUAGE = "en_US"
MAX_PAYLOAD = 256
# Meta refuses a parameter with a newline, a tab or more than four spaces in a row (132018).
_BAD_PARAMETER_TEXT = re.compile(r"[\n\t]| {5,}")


@dataclass(frozen=True)
class TemplateShape:
    """One approved template as Meta knows it.

    `body_params` is the number of body variables ({{1}}…), None to leave it unchecked;
    `buttons` are the quick-reply labels by index; with `static_payloads` every tap carries
    its button's label as payload whatever was set at send time; `language` is the approved
    language code, None to accept any (but one must be sent).
    """

    body_params: int | None = None
    buttons: tuple[str, ...] = DEFAULT_TEMPLATE_BUTTON_TEXTS
    static_payloads: bool = False
    language: str | None = "en"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TemplateShape:
        """From `{"body_params": 1, "buttons": […], "static_payloads": false, "language": "en"}`."""
        unknown = set(data) - {"body_params", "buttons", "static_payloads", "language"}
        if unknown:
            raise ValueError(f"unknown template shape keys: {sorted(unknown)}")
        body_params = data.get("body_params")
        buttons = data.get("buttons", DEFAULT_TEMPLATE_BUTTON_TEXTS)
        language = data.get("language", "en")
        if body_params is not None and (not isinstance(body_params, int) or body_params < 0):
            raise ValueError("body_params must be a whole number or null")
        if not isinstance(buttons, list | tuple) or not all(isinstance(b, str) for b in buttons):
            raise ValueError("buttons must be a list of labels")
        if language is not None and not isinstance(language, str):
            raise ValueError("language must be a string or null")
        return cls(body_params, tuple(buttons), bool(data.get("static_payloads", False)), language)


TemplateSpec = TemplateShape | Sequence[str]
"""A registry entry: a shape, or just the quick-reply labels (no body, language or payload checks)."""


def template_registry(templates: Mapping[str, TemplateSpec] | None) -> dict[str, TemplateShape] | None:
    if not templates:
        return None
    return {
        name: spec if isinstance(spec, TemplateShape) else TemplateShape(buttons=tuple(spec), language=None)
        for name, spec in templates.items()
    }


def validate_template(
    body: dict[str, Any], registry: Mapping[str, TemplateShape] | None, default_texts: Sequence[str]
) -> list[tuple[str, str]]:
    """The quick-reply buttons `(payload a tap carries, label)` of a valid template send, else Rejected.

    Without a registry any name is accepted and only the buttons given at send time are recorded
    (the stand-in's behaviour before it knew template shapes).
    """
    template = body.get("template")
    if not isinstance(template, dict):
        raise Rejected("unsupported_payload", "template must be an object")
    name = template.get("name")
    if not isinstance(name, str) or not name:
        raise Rejected("unsupported_payload", "template.name is required")
    shape = registry.get(name) if registry is not None else None
    if registry is not None and shape is None:
        raise Rejected("template_not_found", f"template {name!r} is not approved")
    _check_language(template, name, shape)
    components = template.get("components") or []
    if not isinstance(components, list):
        raise Rejected("unsupported_payload", "template.components must be a list")
    if shape is not None:
        _check_body(components, shape)
    texts = shape.buttons if shape is not None else tuple(default_texts)
    payloads = _quick_reply_payloads(components, name, texts)
    if shape is None:
        return [(payloads[index], texts[index]) for index in sorted(payloads)]
    if shape.static_payloads:
        return [(label, label) for label in texts]
    # A quick reply given no payload at send time taps with its label, as Meta does.
    return [(payloads.get(index, label), label) for index, label in enumerate(texts)]


def _language(template: dict[str, Any]) -> str | None:
    language = template.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    return code if isinstance(code, str) and code else None


def _check_language(template: dict[str, Any], name: str, shape: TemplateShape | None) -> None:
    sent = _language(template)
    if shape is None or shape.language is None:
        if sent is None:
            raise Rejected("unsupported_payload", "template.language.code is required")
        return
    effective = sent or BRIDGE_DEFAULT_LANGUAGE
    if effective != shape.language:
        raise Rejected.meta(132001, f"template name ({name}) does not exist in {effective}")


def _check_body(components: list[Any], shape: TemplateShape) -> None:
    parameters: list[Any] = []
    for component in components:
        if isinstance(component, dict) and component.get("type") == "body":
            given = component.get("parameters") or []
            if not isinstance(given, list):
                raise Rejected("unsupported_payload", "body parameters must be a list")
            parameters.extend(given)
    if shape.body_params is not None and len(parameters) != shape.body_params:
        raise Rejected.meta(
            132000,
            f"body: number of localizable_params ({len(parameters)}) does not match the expected "
            f"number of params ({shape.body_params})",
        )
    for parameter in parameters:
        text = parameter.get("text") if isinstance(parameter, dict) else None
        if not isinstance(text, str):
            raise Rejected("unsupported_payload", "body parameters must be of type text with a text")
        if _BAD_PARAMETER_TEXT.search(text):
            raise Rejected.meta(132018)


def _quick_reply_payloads(components: list[Any], name: str, texts: Sequence[str]) -> dict[int, str]:
    by_index: dict[int, str] = {}
    for component in components:
        if not isinstance(component, dict) or component.get("type") != "button":
            continue
        if component.get("sub_type") != "quick_reply":
            raise Rejected("unsupported_payload", "only quick_reply template buttons are supported")
        try:
            index = int(component.get("index", ""))
        except (TypeError, ValueError):
            raise Rejected("unsupported_payload", "quick_reply button needs a numeric index") from None
        payloads = [
            p.get("payload")
            for p in component.get("parameters") or []
            if isinstance(p, dict) and p.get("type") == "payload"
        ]
        if not 0 <= index < len(texts) or index in by_index:
            raise Rejected("unsupported_payload", f"no quick_reply button {index} in {name!r}")
        if len(payloads) != 1 or not isinstance(payloads[0], str) or not payloads[0]:
            raise Rejected("unsupported_payload", "quick_reply button needs exactly one payload")
        if len(payloads[0]) > MAX_PAYLOAD:
            raise Rejected("unsupported_payload", f"payload is over {MAX_PAYLOAD} characters")
        by_index[index] = payloads[0]
    return by_index
