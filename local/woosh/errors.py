"""The send endpoint's refusals: Woosh's error codes and Meta's, in the Bridge's answer shapes (SPEC §5)."""

from __future__ import annotations

from typing import Any

ERROR_STATUS = {
    "invalid_api_key": 401,
    "invalid_phone": 400,
    "message_too_long": 400,
    "template_not_found": 400,
    "unsupported_payload": 400,
    "rate_limited": 429,
    "server_error": 500,
    "send_failed": 500,
}
ERROR_MESSAGE = {
    "invalid_api_key": "Invalid or missing API key",
    "invalid_phone": "The phone number is not a valid WhatsApp number",
    "message_too_long": "The message is too long",
    "template_not_found": "Template not found",
    "unsupported_payload": "Unsupported message payload",
    "rate_limited": "Rate limit exceeded",
    "server_error": "Internal server error",
    "send_failed": "Send failed",
}

# When Meta refuses a message the Bridge answers 502 with Meta's text as `error`, its numeric
# `code` and Meta's error object under `detail` (samples/woosh_send_error_meta.json).
META_REFUSAL_STATUS = 502
META_ERRORS = {
    132000: (
        "(#132000) Number of parameters does not match the expected number of params",
        "body: number of localizable_params does not match the expected number of params",
    ),
    132001: (
        "(#132001) Template name does not exist in the translation",
        "template name does not exist in the requested language",
    ),
    132018: (
        "(#132018) There was an issue with the parameters in your template.",
        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
    ),
}


class Rejected(Exception):
    """A send the Bridge refuses: a Woosh error code, or a Meta error code with Meta's answer."""

    def __init__(self, code: str, message: str | None = None, *, meta_code: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or ERROR_MESSAGE.get(code, code)
        self.meta_code = meta_code

    @classmethod
    def meta(cls, meta_code: int, details: str | None = None) -> Rejected:
        text, default_details = META_ERRORS[meta_code]
        return cls(text, details or default_details, meta_code=meta_code)

    @property
    def status(self) -> int:
        return META_REFUSAL_STATUS if self.meta_code is not None else ERROR_STATUS.get(self.code, 400)

    @property
    def recorded_error(self) -> str:
        """What the stand-in records as the send's error: Woosh's code, or Meta's code as digits."""
        return str(self.meta_code) if self.meta_code is not None else self.code

    def answer(self) -> dict[str, Any]:
        if self.meta_code is None:
            return {"ok": False, "error": self.code, "message": self.message}
        return {
            "ok": False,
            "error": self.code,
            "code": self.meta_code,
            "detail": {
                "error": {
                    "message": self.code,
                    "type": "OAuthException",
                    "code": self.meta_code,
                    "error_data": {"messaging_product": "whatsapp", "details": self.message},
                    "fbtrace_id": "AStandInTrace",
                }
            },
        }
