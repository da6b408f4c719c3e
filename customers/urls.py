from django.urls import path

from creditrisk.core.views import make_placeholder

app_name = "customers"

urlpatterns = [
    path("", make_placeholder("customers", "Customers"), name="list"),
]
