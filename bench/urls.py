"""The product's URLs, and after them the peer endpoints the bench compares with
(bench/fsmpeer/views.py). Only the bench's gunicorns use this module (bench/settings.py)."""

from django.urls import path

from bench.fsmpeer.views import Constant, OrderEvent
from config.urls import *  # noqa: F403 - the handlers too
from config.urls import urlpatterns as product

urlpatterns = [
    *product,
    path("bench/orders/<int:order_id>/events/", OrderEvent.as_view()),
    path("bench/constant/<int:order_id>/events/", Constant.as_view()),
]
