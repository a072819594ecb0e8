from django.contrib import admin

from clients.models import ApiClient


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("user", "roles", "is_designer", "created_at")
    list_filter = ("is_designer",)
