from django.utils.translation import gettext_lazy as _

from config.exceptions import PlatformError, ValidationError


class MachineFrozen(PlatformError):
    status_code = 409
    code = "MACHINE_FROZEN"
    default_message = "Only a machine in testing can be edited."


class LifecycleError(PlatformError):
    status_code = 409
    code = "LIFECYCLE_ERROR"
    default_message = "That lifecycle step is not allowed from the current status."


class MachineChanged(PlatformError):
    """Someone saved the machine after the editor read it: a save would overwrite their work.

    412, as HTTP answers a failed If-Match (the design API's PUT; the admin shows the message).
    """

    status_code = 412
    code = "MACHINE_CHANGED"
    default_message = _(
        "Someone saved this machine after you opened it. Reload the page to "
        "see their version, then make your changes again."
    )


class MachineInvalid(ValidationError):
    """The machine breaks validation rules; details carry every problem."""

    def __init__(self, report, message: str = "The machine is not valid."):
        problems = [p.as_dict() for p in report.errors]
        summary = "; ".join(p["message"] for p in problems[:3])
        super().__init__(
            f"{message} {summary}".strip(),
            {"problems": problems, "warnings": [p.as_dict() for p in report.warnings]},
        )


class ScenarioFailed(PlatformError):
    """Publishing ran the version's saved scenarios and at least one failed.

    details: ``{"scenarios": [{id, name, passed, steps, failure}]}``, the failing ones.
    """

    status_code = 409
    code = "SCENARIO_FAILED"
    default_message = "A saved scenario of this version fails: fix the machine or the scenario."
