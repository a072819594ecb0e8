"""Budgets across a request: many branches, many steps, explained values that JSON can carry."""

import json

import pytest
from celery.signals import task_postrun, task_prerun
from django.db import connection
from django.test import RequestFactory

from config.celery import app  # noqa: F401 - connects the task budget signals
from config.exceptions import ValidationError
from config.request_budget import RequestBudgetMiddleware
from machines.compiled import compile_definition
from rules import ExpressionError, Scope, compile_expression
from rules.budget import current_budget
from runtime import engine
from runtime import services as runtime_services
from runtime.simulation import MAX_STEPS, simulate
from tests.machines.builders import branch, choice, go, machine, state
from tests.runtime.helpers import online

# About 9,000 comprehension iterations: well inside one evaluation's limits, so only the
# request's total (250,000 iterations) stops a request that runs it again and again.
HEAVY = "sum(1 for c in 'x' * 9000) < 0"


def _many_branches(count: int):
    transitions = [("S0", "GO", "C1")]
    transitions += [branch("C1", "END", when=HEAVY, order=i) for i in range(count)]
    transitions.append(branch("C1", "END", default=True))
    return compile_definition(
        machine(
            states=[state("S0", initial=True), choice("C1"), state("END", final=True)],
            transitions=transitions,
        )
    )


def test_the_request_budget_stops_a_choice_state_with_1200_branches():
    compiled = _many_branches(1200)

    with pytest.raises(ExpressionError) as caught:
        engine.decide(compiled, state="S0", event="GO")

    assert caught.value.code == "EXPRESSION_ERROR"
    assert caught.value.details["reason"] == "request_budget"
    assert caught.value.details["field"] == "caseCondition"


def test_a_choice_state_with_a_few_such_branches_is_decided_as_usual():
    assert engine.decide(_many_branches(5), state="S0", event="GO").to_state == "END"


def _looping_machine():
    definition = machine(
        states=[state("S0", initial=True), state("END", final=True)],
        transitions=[go("S0", "AGAIN", "S0", guard_condition=f"not ({HEAVY})")],
    )
    return compile_definition(definition)


def test_simulate_refuses_more_steps_than_its_cap_whoever_calls_it():
    steps = [{"event": "AGAIN"}] * (MAX_STEPS + 1)

    with pytest.raises(ValidationError) as caught:
        simulate(_looping_machine(), state=None, steps=steps)

    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.status_code == 400
    assert caught.value.details["problems"][0]["path"] == "steps"


def test_the_steps_of_one_simulation_share_one_budget():
    result = simulate(_looping_machine(), state=None, steps=[{"event": "AGAIN"}] * MAX_STEPS)

    outcomes = [step["ok"] for step in result["steps"]]
    first_refused = outcomes.index(False)
    refused = result["steps"][first_refused]["error"]

    assert 20 <= first_refused < 30
    assert not any(outcomes[first_refused:])
    assert (refused["code"], refused["details"]["reason"]) == ("EXPRESSION_ERROR", "request_budget")


def test_the_middleware_opens_one_budget_for_the_whole_request():
    expression = compile_expression(HEAVY)

    def view(request):
        for done in range(100):
            try:
                expression.evaluate(Scope())
            except ExpressionError as exc:
                return done, exc.details["reason"], current_budget()
        return done, None, current_budget()

    done, reason, budget = RequestBudgetMiddleware(view)(RequestFactory().get("/"))

    assert (reason, budget is not None) == ("request_budget", True)
    assert done < 30
    assert current_budget() is None


def test_each_celery_task_runs_under_its_own_budget():
    task_prerun.send(sender=None, task_id="t-1", task=None)
    opened = current_budget()
    task_postrun.send(sender=None, task_id="t-1", task=None)

    assert opened is not None
    assert current_budget() is None


WEIRD = {
    "NAN": "float('nan')",
    "INF": "float('inf')",
    "MINUS_INF": "-float('inf')",
    "HUGE_INT": "ctx.n + ctx.n",  # 4,301 digits: Python refuses to print it
    "SURROGATE": "ctx.s",
    "NUL": "'a\\x00b'",
    "LIST": "[ctx.n, ctx.get('s'), float('nan')] * 100",
    "OBJECT": "{'n': ctx.n, 's': ctx.get('s')}",
}


def _weird_machine() -> None:
    transitions = [
        {"sourceState": "S0", "targetState": "END", "eventValue": event, "showCondition": show}
        for event, show in WEIRD.items()
    ]
    guard = {"sourceState": "S0", "targetState": "END", "eventValue": "GUARD"}
    transitions.append({**guard, "guardCondition": "ctx.n"})
    states = [{"stateValue": "S0", "initial": True}, {"stateValue": "END", "final": True}]
    online({"smInfo": {"flowCode": "weird"}, "smStates": states, "smTransitions": transitions})


def _strict(content: bytes):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(content.decode("utf-8"), parse_constant=refuse)


@pytest.mark.django_db
def test_explain_answers_valid_json_whatever_the_expressions_and_context_yield(business):
    _weird_machine()
    # NaN cannot be stored at all; these two can, by services (the API refuses them now) or
    # from before the API's bounds; PostgreSQL's jsonb refuses the lone surrogate too.
    context = {"n": int("9" * 4300)}
    if connection.vendor == "sqlite":
        context["s"] = "lone \ud800 surrogate"
    instance = runtime_services.instance_create(
        flow_code="weird", business_key="k", context=context
    )

    response = business.get(f"/api/v1/instances/{instance.pk}/events/available?explain=true")

    assert response.status_code == 200
    verdicts = {v["event"]: v for v in _strict(response.content)}
    assert verdicts["NAN"]["showCondition"]["value"] == "NaN"
    assert verdicts["INF"]["showCondition"]["value"] == "Infinity"
    assert verdicts["MINUS_INF"]["showCondition"]["value"] == "-Infinity"
    assert verdicts["HUGE_INT"]["showCondition"]["value"] == "<integer of 4,301 digits>"
    if "s" in context:
        assert verdicts["SURROGATE"]["showCondition"]["names"]["ctx.s"] == "lone \\ud800 surrogate"
    assert verdicts["NUL"]["showCondition"]["value"] == "a\\x00b"
    assert verdicts["GUARD"]["guardCondition"]["names"]["ctx.n"] == "<integer of 4,300 digits>"
    assert len(verdicts["LIST"]["showCondition"]["value"]) <= 1000
    assert verdicts["OBJECT"]["verdict"] == "available"
