from django.urls import path

from monitoring import views

urlpatterns = [
    path("", views.jobs, name="jobs"),
    path("schedules/<int:pk>/", views.schedule_update, name="schedule_update"),
    path("schedules/<int:pk>/run/", views.schedule_run_now, name="schedule_run_now"),
]
