"""What validation reports: problems, the report, and helpers that place a problem."""

from copy import deepcopy
from dataclasses import dataclass, field

from machines.definition import Definition, StateDef, TransitionDef

ERROR = "error"
WARNING = "warning"
PROBLEM_LEVELS = [(ERROR, "error"), (WARNING, "warning")]


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    where: dict = field(hash=False)
    level: str = ERROR

    def as_dict(self) -> dict:
        """The problem as JSON-ready data."""
        return {
            "code": self.code,
            "message": self.message,
            "where": deepcopy(self.where),
            "level": self.level,
        }


@dataclass(frozen=True)
class Report:
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        """The report as JSON-ready data: ``{valid, errors, warnings}``."""
        return {
            "valid": self.valid,
            "errors": [problem.as_dict() for problem in self.errors],
            "warnings": [problem.as_dict() for problem in self.warnings],
        }


def transition_where(index: int, t: TransitionDef, field_name: str | None = None) -> dict:
    where = {
        "transition": index,
        "transitionId": t.id,
        "sourceState": t.source,
        "eventValue": t.event,
        "targetState": t.target,
    }
    return {**where, "field": field_name} if field_name else where


def describe(index: int, t: TransitionDef) -> str:
    arrow = f"--{t.event}-->" if t.event else "-->"
    return f"Transition #{index} ({t.source or '?'} {arrow} {t.target or '?'})"


def on_state(code: str, state: str, message: str, level: str = ERROR) -> Problem:
    return Problem(code, message, {"state": state}, level)


def on_transition(
    code: str, index: int, t: TransitionDef, field_name: str, message: str, **extra
) -> Problem:
    """A problem about one transition; the message goes after the transition's description."""
    level = extra.pop("level", ERROR)
    where = {**transition_where(index, t, field_name), **extra}
    return Problem(code, f"{describe(index, t)} {message}", where, level)


def numbered(definition: Definition) -> list[tuple[int, TransitionDef]]:
    """Each transition with the index of its row: an expanded copy's row, else its own."""
    return [(i if t.row is None else t.row, t) for i, t in enumerate(definition.transitions)]


def states_by_value(definition: Definition) -> dict[str, StateDef]:
    """The first state listed for each value (duplicates are reported elsewhere)."""
    states: dict[str, StateDef] = {}
    for state in definition.states:
        states.setdefault(state.value, state)
    return states


def is_choice_source(states: dict[str, StateDef], t: TransitionDef) -> bool:
    return t.source in states and states[t.source].is_choice


def blank(value) -> bool:
    return value is None or not str(value).strip()
