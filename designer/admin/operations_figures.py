"""The figures of a flow's operations page, read as aggregates: no writes here.

Instances per state come from operations.selectors.instance_states (one GROUP BY over the
instances, kept a minute per process, shared with /metrics); transitions taken from the
hourly roll-up, for a window that starts on the hour; backlogs and stuck work from the
partial indexes that /metrics reads.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from designer.admin.display import STATUS_LABELS
from machines import selectors as machine_selectors
from machines.diagrams import render_mermaid
from machines.models import Machine
from operations import selectors


@dataclass(frozen=True)
class Window:
    key: str
    length: timedelta
    label: str


WINDOWS = {
    "1h": Window("1h", timedelta(hours=1), _("1 h")),
    "24h": Window("24h", timedelta(hours=24), _("24 h")),
    "7d": Window("7d", timedelta(days=7), _("7 d")),
}
DEFAULT_WINDOW = "24h"


def window(key: str | None) -> Window:
    return WINDOWS.get(key or DEFAULT_WINDOW, WINDOWS[DEFAULT_WINDOW])


def window_start(until, length: timedelta):
    """The start of the hour holding `until - length`: counts are kept per hour."""
    return (until - length).replace(minute=0, second=0, microsecond=0)


def flow_figures(*, flow, window: Window) -> dict:
    """Everything the page shows of `flow` except the failed events' list."""
    now = timezone.now()
    online = flow.machines.filter(status=Machine.Status.ONLINE).first()
    counted_at, rows = selectors.instance_states()
    per_version: dict[int, dict[str, int]] = {}
    for flow_id, _code, machine_id, state, n in rows:
        if flow_id == flow.pk:
            per_version.setdefault(machine_id, {})[state] = n
    mark = selectors.rollup_mark()
    until = mark.counted_until if mark else None
    since = window_start(until, window.length) if until else None
    figures = {
        "windows": list(WINDOWS.values()),
        "window": window,
        "since": since,
        "until": until,
        "counted_from": mark.counted_from if mark and since and mark.counted_from > since else None,
        "instances_counted_at": counted_at,
        "online": online,
        "other_versions": _other_versions(flow, online, per_version),
        "backlogs": selectors.backlogs(now=now, flow_id=flow.pk),
        "now": now,
    }
    if online is not None:
        figures.update(_diagram(online, per_version.get(online.pk, {}), since))
    return figures


def _other_versions(flow, online, per_version: dict) -> list[dict]:
    """Instances still on versions other than the online one, per version."""
    others = [pk for pk in per_version if online is None or pk != online.pk]
    versions = flow.machines.filter(pk__in=others).order_by("-version")
    return [
        {
            "machine": m,
            "status": STATUS_LABELS[m.status],
            "instances": sum(per_version[m.pk].values()),
        }
        for m in versions
    ]


def _diagram(machine, states: dict[str, int], since) -> dict:
    """The online version's diagram with instances on its states and counts on its edges."""
    # A row with a comma list or "*" is drawn (and counted) once per state it leaves.
    definition = machine_selectors.machine_definition(machine=machine).expanded()
    transitions = definition.transitions
    taken = (
        selectors.transition_counts(transition_ids={t.id for t in transitions}, since=since)
        if since
        else {}
    )
    copies = Counter(t.id for t in transitions)
    edges = []
    for index, t in enumerate(transitions):
        # A transition drawn once counts every hop it made; the copies of a many-source row
        # (one id) count the hops from their own state each.
        n = sum(
            count
            for (tid, source), count in taken.items()
            if tid == t.id and (copies[t.id] == 1 or source == t.source)
        )
        edges.append({"index": index, "transition": t, "count": n})
    resting = [
        {"state": s.value, "count": states.get(s.value, 0)}
        for s in dict((s.value, s) for s in definition.states if not s.is_choice).values()
    ]
    diagram = render_mermaid(
        definition,
        state_notes={r["state"]: instances_label(r["count"]) for r in resting},
        edge_notes={e["index"]: times_label(e["count"]) for e in edges} if since else {},
    )
    return {"diagram": diagram, "resting": resting, "edges": edges}


def instances_label(count: int) -> str:
    return ngettext("%(count)d instance", "%(count)d instances", count) % {"count": count}


def times_label(count: int) -> str:
    return ngettext("%(count)d time", "%(count)d times", count) % {"count": count}
