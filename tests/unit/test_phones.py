"""Phone numbers as people write them (SPEC §4): libphonenumber's rules, digits-only output."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lift_alerts.domain.alert_request import PHONE_REGION, AlertRequest
from lift_alerts.domain.phones import phone_digits
from lift_alerts.platform.config import ConfigurationError


@pytest.mark.parametrize(
    "written",
    [
        "+27824537125",
        "27824537125",
        "+27 82 453 7125",
        "27 82 453 7125",
        "+27-82-453-7125",
        "+27.82.453.7125",
        "+27 (82) 453 7125",
        "0027 82 453 7125",
        "082 453 7125",
        "(082) 453-7125",
        "082.453.7125",
        " 0824537125 ",
    ],
)
def test_each_written_form_of_one_number_gives_its_digits(written: str) -> None:
    assert phone_digits(written) == "27824537125"


def test_an_international_number_without_its_plus_is_read_as_international() -> None:
    # Not a valid ZA number, and a valid UK mobile once read with its country code.
    assert phone_digits("447911123456") == "447911123456"
    assert phone_digits("+44 7911 123456") == "447911123456"


def test_national_numbers_are_read_in_the_region_given() -> None:
    assert phone_digits("07911 123456", "GB") == "447911123456"
    assert phone_digits("082 453 7125", "ZA") == "27824537125"


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("+2782ABC4567", "digits"),  # a vanity number to libphonenumber
        ("082 453 7l25", "digits"),  # a letter l for a one
        ("0824537125 ext 4", "digits"),
        ("+27 82 453 71255", "valid"),  # a digit too many
        ("+27 12 345 678", "valid"),
        ("12345678", "valid"),
        ("+123456789012345", "valid"),  # 15 digits, but no country's number
        ("27899999999", "valid"),
        ("", "digits"),
        ("+", "digits"),
        ("--", "digits"),
        ("27+824537125", "digits"),  # "+" only in front
        ("0" * 41, "digits"),
    ],
)
def test_what_is_not_a_valid_number_is_refused_saying_why(written: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        phone_digits(written)


def test_an_unknown_default_region_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="DEFAULT_PHONE_REGION"):
        phone_digits("082 453 7125", "QQ")


def _request(recipients: list[str], region: str | None = None) -> AlertRequest:
    body = {"ticket_id": "T-1", "lift_id": "L-1", "recipients": recipients}
    context = {PHONE_REGION: region} if region else None
    return AlertRequest.model_validate(body, context=context)


def test_recipients_are_deduplicated_by_digits_whatever_their_form() -> None:
    request = _request(["+27 82 453 7125", "082 453 7125", "27824537125", "0831234567"])
    assert request.recipients == ["27824537125", "27831234567"]


def test_the_request_reads_national_numbers_in_the_configured_region() -> None:
    assert _request(["07911 123456"], region="GB").recipients == ["447911123456"]
    with pytest.raises(ValidationError):
        _request(["07911 123456"])  # not a ZA number


def test_a_bad_number_names_its_field_and_position_never_the_number() -> None:
    with pytest.raises(ValidationError) as caught:
        _request(["0824537125", "+2782ABC4567"])
    (error,) = caught.value.errors()
    assert error["loc"] == ("recipients",)
    assert "item 1" in error["msg"]
    assert "ABC" not in error["msg"]
