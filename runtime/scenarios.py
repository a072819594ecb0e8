"""Running a version's saved scenarios: pass or fail per scenario, and what they covered.

Each scenario runs as a simulation (runtime/simulation.py): the engine without storage and
without actions. A step passes when it ends in the state its expectation names, or fails
with the error code it names; a scenario fails at its first step that does not. All the
scenarios of one run share one request budget: past it, each further step fails with
EXPRESSION_ERROR, so a run is bounded however many expressions it evaluates.

Coverage counts the transitions the passing steps took (every hop of their path, choice
branches included), up to each scenario's first failing step. It lists the transitions as the
machine runs them (Definition.expanded): a row whose source is a comma list or "*" once per
state it leaves, each counted by the hops from that state, so "DONE from MOM_PASS never taken"
shows even when DONE from APPLY was.
"""

from config.exceptions import PlatformError
from machines import selectors
from machines.compiled import compiled_machine
from machines.definition import Definition
from machines.exceptions import MachineInvalid, ScenarioFailed
from machines.models import Machine, Scenario
from machines.scenarios import scenario_create, scenario_list
from machines.services import machine_validate
from rules import request_budget
from runtime.services import SIMULATION_TOLERATES, machine_simulate
from runtime.simulation import simulate


def scenarios_run(*, machine: Machine) -> dict:
    """Run every scenario of `machine`: {passed, scenarios, coverage}; nothing stored."""
    if machine.status == Machine.Status.TESTING:
        report = machine_validate(machine=machine)
        if any(p.code not in SIMULATION_TOLERATES for p in report.errors):
            raise MachineInvalid(report, "The scenarios cannot run until these are fixed.")
    compiled = compiled_machine(machine)
    definition = selectors.machine_definition(machine=machine)
    taken: dict[tuple[int, str], int] = {}
    results = []
    with request_budget():
        for scenario in scenario_list(machine=machine):
            results.append(_run_one(compiled, scenario, taken))
    return {
        "passed": all(r["passed"] for r in results),
        "scenarios": results,
        "coverage": coverage(definition, taken),
    }


def scenarios_publish_check(machine: Machine) -> None:
    """Refuse to publish a version whose saved scenarios do not all pass (SCENARIO_FAILED)."""
    if not machine.scenarios.exists():
        return
    result = scenarios_run(machine=machine)
    failed = [r for r in result["scenarios"] if not r["passed"]]
    if failed:
        raise ScenarioFailed(
            f"{len(failed)} of {len(result['scenarios'])} saved scenario(s) fail: "
            + "; ".join(_describe(r) for r in failed[:3]),
            {"scenarios": failed},
        )


def _run_one(compiled, scenario: Scenario, taken: dict[tuple[int, str], int]) -> dict:
    result = {"id": scenario.pk, "name": scenario.name, "passed": True, "failure": None}
    state = scenario.state or compiled.initial
    if state not in compiled.states:
        result.update(
            passed=False,
            failure={
                "step": None,
                "event": None,
                "expected": {"state": state},
                "actual": {"code": "VALIDATION_ERROR", "message": f"No state {state!r}."},
            },
        )
        return result
    steps = [
        {"event": s["event"], "role": s.get("role"), "context": s.get("context") or {}}
        for s in scenario.steps
    ]
    try:
        run = simulate(compiled, state=state, steps=steps)
    except PlatformError as exc:  # a stored scenario past today's bounds
        actual = {"code": exc.code, "message": exc.message}
        result.update(
            passed=False, failure={"step": None, "event": None, "expected": {}, "actual": actual}
        )
        return result
    for index, (step, outcome) in enumerate(zip(scenario.steps, run["steps"], strict=True)):
        expect, actual = step["expect"], _actual(outcome)
        if not _matches(expect, actual):
            failure = {"step": index, "event": step["event"], "expected": expect, "actual": actual}
            result.update(passed=False, failure=failure)
            break
        for hop in outcome["outcome"]["path"] if outcome["ok"] else ():
            if hop["transitionId"] is not None:
                # By the state it left too: the copies of a many-source row share one id.
                key = (hop["transitionId"], hop["fromState"])
                taken[key] = taken.get(key, 0) + 1
    return result


def _actual(step: dict) -> dict:
    if step["ok"]:
        return {"state": step["outcome"]["state"]}
    return {"code": step["error"]["code"], "message": step["error"]["message"]}


def _matches(expect: dict, actual: dict) -> bool:
    if "state" in expect:
        return actual.get("state") == expect["state"]
    return actual.get("code") == expect.get("code")


def _describe(result: dict) -> str:
    failure = result["failure"]
    expected = failure["expected"].get("state") or failure["expected"].get("code") or "?"
    actual = failure["actual"].get("state") or failure["actual"].get("code")
    where = f"step {failure['step'] + 1}" if failure["step"] is not None else "its start"
    return f"{result['name']!r} at {where}: expected {expected}, got {actual}"


def coverage(definition: Definition, taken: dict[tuple[int, str], int]) -> dict:
    """Which transitions and which cases of each choice state were taken, and how often.

    `taken` counts by (stored transition id, state it left). The answer lists every expanded
    transition, so the never-taken ones show as 0: ``index`` is its row in smTransitions
    (shared by the copies of a many-source row), ``expandedIndex`` its position in
    ``definition.expanded().transitions``, which the diagrams' indexes are.
    """
    transitions, choices = [], {}
    for position, t in enumerate(definition.expanded().transitions):
        count = taken.get((t.id, t.source), 0)
        index = position if t.row is None else t.row
        source = definition.state(t.source)
        if source is not None and source.is_choice:
            case = {
                "index": index,
                "expandedIndex": position,
                "transitionId": t.id,
                "target": t.target,
                "condition": t.case_condition,
                "default": t.case_default,
                "taken": count,
            }
            choices.setdefault(t.source, []).append(case)
        else:
            transitions.append(
                {
                    "index": index,
                    "expandedIndex": position,
                    "transitionId": t.id,
                    "source": t.source,
                    "event": t.event,
                    "target": t.target,
                    "taken": count,
                }
            )
    cases = [case for items in choices.values() for case in items]
    return {
        "transitions": transitions,
        "choices": [{"state": state, "cases": items} for state, items in choices.items()],
        "transitionsTaken": sum(1 for t in transitions if t["taken"]),
        "transitionsTotal": len(transitions),
        "casesTaken": sum(1 for c in cases if c["taken"]),
        "casesTotal": len(cases),
    }


def coverage_taken(result: dict) -> dict[int, int]:
    """Times taken by index in the expanded transitions, from a run's coverage: what
    machines.diagrams.mermaid_marked takes."""
    items = result["coverage"]["transitions"] + [
        case for choice in result["coverage"]["choices"] for case in choice["cases"]
    ]
    return {item["expandedIndex"]: item["taken"] for item in items if item["taken"]}


def scenario_save_from_simulation(
    *, machine: Machine, name: str, state: str | None, steps: list[dict]
) -> Scenario:
    """Simulate `steps` and save them as a scenario expecting what this run gave.

    A step that reached a state expects that state; one that failed expects its error code.
    The simulator's "save as scenario": what works today is kept as what must keep working.
    """
    run = machine_simulate(machine=machine, state=state, steps=steps)
    expected = [
        {**step, "expect": _expectation(result)}
        for step, result in zip(steps, run["steps"], strict=True)
    ]
    return scenario_create(machine=machine, data={"name": name, "state": state, "steps": expected})


def _expectation(step: dict) -> dict:
    if step["ok"]:
        return {"state": step["outcome"]["state"]}
    return {"code": step["error"]["code"]}
