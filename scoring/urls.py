from django.urls import path

from creditrisk.core.views import make_placeholder

app_name = "scoring"

urlpatterns = [
    path("", make_placeholder("scoring", "Scoring"), name="index"),
]
