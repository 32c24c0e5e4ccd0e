"""The send API's request models (SPEC §4, §9). Bad input becomes a 400 naming each field."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lift_alerts.domain.phones import DEFAULT_REGION, phone_digits
from lift_alerts.domain.text_rules import BODY_MAX, has_control_characters, is_valid_unicode


def _text(value: Any, *, allow_newlines: bool = False) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        if not is_valid_unicode(value):
            raise ValueError("is not valid Unicode text")
        if has_control_characters(value, allow_newlines=allow_newlines):
            raise ValueError("must not contain control characters")
        return value.strip()
    return value


def _line(value: Any) -> Any:
    return _text(value)


def _multiline(value: Any) -> Any:
    return _text(value, allow_newlines=True)


Identifier = Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=64)]
Line = Annotated[str, BeforeValidator(_line), Field(max_length=200)]
Floor = Annotated[str, BeforeValidator(_line), Field(max_length=16)]
Note = Annotated[str, BeforeValidator(_multiline), Field(max_length=500)]


# The validation context key that names the region national numbers are read in
# (DEFAULT_PHONE_REGION: `create_alert.parse_request` passes it; absent: ZA).
PHONE_REGION = "phone_region"


def _digits(values: list[str], info: ValidationInfo) -> list[str]:
    """Validate each number and deduplicate by digits, keeping the caller's order."""
    region = str((info.context or {}).get(PHONE_REGION) or DEFAULT_REGION)
    seen: dict[str, None] = {}
    for position, value in enumerate(values):
        if not isinstance(value, str):
            raise ValueError("each recipient must be a string")  # noqa: TRY004 - pydantic wants ValueError
        try:
            digits = phone_digits(value, region)
        except ValueError as exc:
            # The position, never the number itself (answers and logs carry no phone numbers).
            raise ValueError(f"item {position}: {exc}") from None
        seen.setdefault(digits, None)
    return list(seen)


class EscalationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)

    after_seconds: int | None = Field(default=None, ge=1, le=3600, strict=True)
    max_rounds: int | None = Field(default=None, ge=0, le=10, strict=True)
    recipients: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("recipients")
    @classmethod
    def _unique_digits(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _digits(value, info)


class AlertRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ticket_id: Identifier
    lift_id: Identifier
    site: Line = ""
    floor: Floor = ""
    note: Note = ""
    recipients: list[str] = Field(min_length=1, max_length=50)
    escalation: EscalationRequest | None = None

    @field_validator("recipients")
    @classmethod
    def _unique_digits(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _digits(value, info)

    @model_validator(mode="after")
    def _fits_whatsapp(self) -> AlertRequest:
        from lift_alerts.domain.outbound import alert_text

        # Checked with the longest reminder prefix, so every round fits too.
        if len(alert_text(self, reminder=(10, 10))) > BODY_MAX:
            raise ValueError(
                f"site, lift, floor and note together exceed WhatsApp's {BODY_MAX}-character body"
            )
        return self


class CloseRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: Note = ""
