"""The design example with the modeling extensions set: enterAction URLs and errorTargets."""

from tests.conftest import example_seed
from tests.runtime.helpers import online


def extended(
    *,
    enter: dict[str, str] | None = None,
    actions: dict[tuple[str, str], str] | None = None,
    error_targets: dict[tuple[str, str], str] | None = None,
    flow: str = "design-example",
) -> dict:
    """The design example's seed with `enter` (state -> URL), `actions` and `error_targets`
    ((source, event) -> URL or state) set."""
    doc = example_seed("design-example")
    doc["smInfo"]["flowCode"] = flow
    for state in doc["smStates"]:
        if state["stateValue"] in (enter or {}):
            state["enterAction"] = enter[state["stateValue"]]
    for transition in doc["smTransitions"]:
        key = (transition["sourceState"], transition["eventValue"])
        if key in (actions or {}):
            transition["transitionAction"] = actions[key]
        if key in (error_targets or {}):
            transition["errorTarget"] = error_targets[key]
    return doc


def extended_online(**kwargs):
    """extended(...), stored, published and put online: the machine."""
    return online(extended(**kwargs))
