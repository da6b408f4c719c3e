"""seed_demo leaves a demo that opens graded: users for every role, a portfolio, a champion model, scores."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from creditrisk.core.audit import audit_verify
from customers.models import Customer
from scoring.models import ModelStatus, ModelVersion, Score


@pytest.mark.django_db
def test_it_seeds_users_portfolio_model_and_scores(capsys):
    call_command("seed_demo", customers=60, months=24, seed=3)
    out = capsys.readouterr().out
    users = get_user_model().objects
    for username in ("analyst", "manager", "operations", "auditor", "admin"):
        assert users.filter(username=username).exists(), username
        assert username in out
    assert users.get(username="auditor").groups.get().name == "auditor"
    assert ModelVersion.objects.filter(status=ModelStatus.CHAMPION).count() == 1
    customers = Customer.objects.count()
    assert customers == 60
    assert Score.objects.count() == customers
    assert not Customer.objects.filter(current_grade="").exists()
    assert list(audit_verify()) == []


@pytest.mark.django_db
def test_it_can_skip_the_scores(capsys):
    call_command("seed_demo", "--no-scores", customers=10, months=6, seed=3)
    assert Customer.objects.count() == 10
    assert not Score.objects.exists()
