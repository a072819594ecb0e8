"""The validator's rules on a state's enterAction and a transition's errorTarget."""

import pytest

from machines.validation import validate
from tests.machines.builders import choice, go, machine, state

ALLOWED = ("biz.example",)
ACTION = "http://biz.example/pay"


def _payment(*, error_target="PAYMENT_FAILED", action=ACTION, enter=None, extra=()):
    return machine(
        [
            state("NEW", initial=True),
            state("PAID", final=True, enter_action=enter),
            state("PAYMENT_FAILED", final=True),
            choice("ROUTE"),
            *extra,
        ],
        [
            go("NEW", "PAY", "PAID", action=action, error_target=error_target),
            ("NEW", "CHECK", "ROUTE"),
            go("ROUTE", None, "NEW", case_default=True),
        ],
    )


def _codes(report):
    return sorted((p.code, p.level) for p in report.errors + report.warnings)


def test_an_error_target_reached_only_through_a_failing_action_is_reachable():
    report = validate(_payment(), allowed_hosts=ALLOWED)
    assert report.valid and not report.warnings, _codes(report)


def test_without_the_error_target_that_state_is_unreachable():
    report = validate(_payment(error_target=None), allowed_hosts=ALLOWED)
    assert _codes(report) == [("STATE_UNREACHABLE", "error")]


@pytest.mark.parametrize(
    ("target", "code"), [("NOWHERE", "ERROR_TARGET_UNKNOWN"), ("ROUTE", "ERROR_TARGET_NOT_NORMAL")]
)
def test_an_error_target_must_be_an_existing_normal_state(target, code):
    report = validate(_payment(error_target=target), allowed_hosts=ALLOWED)
    problem = next(p for p in report.errors if p.code == code)
    assert problem.where["field"] == "errorTarget" and problem.where["transition"] == 0


def test_an_error_target_without_an_action_is_ignored_and_said_so():
    report = validate(_payment(action=None), allowed_hosts=ALLOWED)
    assert ("FIELD_IGNORED", "warning") in _codes(report)
    assert ("STATE_UNREACHABLE", "error") in _codes(report)  # no action: no way there


def test_an_entry_action_off_the_allow_list_is_refused_with_its_state():
    report = validate(_payment(enter="http://elsewhere.example/x"), allowed_hosts=ALLOWED)
    problem = next(p for p in report.errors if p.code == "ACTION_HOST_NOT_ALLOWED")
    assert problem.where == {"state": "PAID", "field": "enterAction"}


def test_an_entry_action_that_is_no_url_is_invalid():
    report = validate(_payment(enter="file:///etc/passwd"), allowed_hosts=ALLOWED)
    assert ("ACTION_URL_INVALID", "error") in _codes(report)


def test_an_entry_action_on_the_allow_list_passes():
    report = validate(_payment(enter="http://biz.example/paid"), allowed_hosts=ALLOWED)
    assert report.valid and not report.warnings


def test_an_entry_action_on_a_choice_state_is_ignored_and_said_so():
    definition = _payment()
    definition = machine(
        [*definition.states[:3], choice("ROUTE", enter_action="http://biz.example/r")],
        definition.transitions,
    )
    report = validate(definition, allowed_hosts=ALLOWED)
    assert _codes(report) == [("FIELD_IGNORED", "warning")]
