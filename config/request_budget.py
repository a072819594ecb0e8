"""One expression budget per HTTP request and per Celery task (rules.request_budget).

Every guard, case and show condition a request or a task evaluates, however many machines,
branches, events or simulated steps it reaches, spends from one budget; past it, each further
evaluation fails at once with EXPRESSION_ERROR (reason `request_budget`).
"""

from contextlib import ExitStack

from celery.signals import task_postrun, task_prerun

from rules import request_budget


class RequestBudgetMiddleware:
    """Open the request's budget around the view, and close it after."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_budget():
            return self.get_response(request)


# A task's budget opens in task_prerun and closes in task_postrun, which Celery sends from
# the thread that runs the task, around it; by task id, as an eager task may run inside
# another one (it then joins the outer budget, as nested budgets do).
_OPEN: dict[str, ExitStack] = {}


def open_task_budget(task_id=None, **kwargs) -> None:
    stack = ExitStack()
    stack.enter_context(request_budget())
    _OPEN[task_id] = stack


def close_task_budget(task_id=None, **kwargs) -> None:
    stack = _OPEN.pop(task_id, None)
    if stack is not None:
        stack.close()


def connect_task_signals() -> None:
    """Connect the pair (from config/celery.py, where the Celery app is made)."""
    task_prerun.connect(open_task_budget, weak=False, dispatch_uid="rules_budget_open")
    task_postrun.connect(close_task_budget, weak=False, dispatch_uid="rules_budget_close")
