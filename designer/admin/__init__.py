"""The admin designer: flows, machines with their states and transitions, instances.

Each module registers one ModelAdmin; pages.py holds the extra machine pages (overview,
simulator, lifecycle steps, import and export); operations_admin.py the operations page of a
flow.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from designer.admin import (  # noqa: F401 - registers
    flow_admin,
    instance_admin,
    machine_admin,
    operations_admin,
    refused_admin,
)

admin.site.site_header = _("Statecenter designer")
admin.site.site_title = _("Statecenter")
admin.site.index_title = _("Design, test and run state machines")
