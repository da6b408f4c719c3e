"""Chinese names of grades, master scales and scorecards: shown in zh-hans, English otherwise, copied to
new versions, editable by managers."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from scoring import selectors, services
from scoring.models import Grade, MasterScale, Scorecard
from tests.scoring.test_pages_scale_runs import _formset_post
from tests.scoring.test_pages_scorecards import build_scored_portfolio

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _grades_table(response) -> str:
    return response.content.decode().split('id="grades"')[1].split("</table>")[0]


@pytest.mark.django_db
def test_it_ships_the_defaults_with_chinese_names():
    scale = selectors.master_scale_active()
    assert scale.name_zh == "默认主标尺"
    assert scale.grades.get(code="A1").label_zh == "极低风险"
    assert scale.grades.get(code="A3").label_zh == "低风险"
    assert Scorecard.objects.get(segment="small", version=1).name_zh == "小型客户——付款行为"
    assert Scorecard.objects.get(segment="medium_large", version=1).name_zh == "中大型客户——完整评分卡"


@pytest.mark.django_db
def test_it_shows_chinese_labels_and_names_in_chinese(auditor, client_for):
    client = client_for(auditor)

    scale_page = client.get(reverse("scoring:scale"), **ZH)
    cards_page = client.get(reverse("scoring:index"), **ZH)

    table = _grades_table(scale_page)
    assert "极低风险" in table
    assert "Minimal risk" not in table
    assert "默认主标尺" in scale_page.content.decode()
    body = cards_page.content.decode()
    assert "小型客户——付款行为" in body
    assert "Small customers — payment behaviour" not in body


@pytest.mark.django_db
def test_it_shows_english_labels_and_names_in_english(auditor, client_for):
    client = client_for(auditor)

    scale_page = client.get(reverse("scoring:scale"), **EN)
    card = selectors.scorecard_active_for_segment(segment="small")
    card_page = client.get(reverse("scoring:scorecard", args=[card.pk]), **EN)

    table = _grades_table(scale_page)
    assert "Minimal risk" in table
    assert "极低风险" not in table
    body = card_page.content.decode()
    assert "Small customers — payment behaviour" in body
    assert "小型客户" not in body


@pytest.mark.django_db
def test_it_falls_back_to_english_when_the_chinese_is_blank(auditor, client_for):
    Grade.objects.filter(code="A1").update(label_zh="")
    MasterScale.objects.update(name_zh="")
    card = selectors.scorecard_active_for_segment(segment="small")
    Scorecard.objects.filter(pk=card.pk).update(name_zh="")
    client = client_for(auditor)

    table = _grades_table(client.get(reverse("scoring:scale"), **ZH))
    card_page = client.get(reverse("scoring:scorecard", args=[card.pk]), **ZH).content.decode()

    assert "Minimal risk" in table
    assert "低风险" in table
    assert "Small customers — payment behaviour" in card_page
    with translation.override("zh-hans"):
        assert MasterScale.objects.get(active=True).display_name() == "Default master scale"


@pytest.mark.django_db
def test_it_copies_the_chinese_name_into_a_draft_and_a_new_scale_version(manager):
    card = selectors.scorecard_active_for_segment(segment="small")

    draft = services.scorecard_create_draft(actor=manager, source=card)
    renamed = services.scorecard_create_draft(actor=manager, source=card, name="Renamed card")
    scale = services.master_scale_new_version(actor=manager)

    assert draft.name_zh == "小型客户——付款行为"
    assert renamed.name_zh == ""  # a new English name does not keep the old Chinese one
    assert scale.name_zh == "默认主标尺"
    assert scale.grades.get(code="E").label_zh == "违约或接近违约"


@pytest.mark.django_db
def test_it_lets_a_manager_edit_the_chinese_names_of_a_new_scale_version(manager, client_for):
    active = selectors.master_scale_active()
    client = client_for(manager)
    form_page = client.get(reverse("scoring:scale_new")).content.decode()
    assert 'name="name_zh"' in form_page
    assert 'value="默认主标尺"' in form_page
    assert 'name="grades-0-label_zh"' in form_page
    assert 'value="极低风险"' in form_page
    data = _formset_post(active)
    data.update({"name_zh": "更严格的标尺", "grades-0-label_zh": "最低风险", "grades-1-label_zh": "很低风险"})

    response = client.post(reverse("scoring:scale_new"), data)

    assert response.status_code == 302
    new = MasterScale.objects.get(version=active.version + 1)
    assert new.name_zh == "更严格的标尺"
    assert list(new.grades.order_by("rank").values_list("label_zh", flat=True)[:3]) == ["最低风险", "很低风险", ""]


@pytest.mark.django_db
def test_it_shows_the_chinese_grade_label_and_scorecard_name_on_the_score_tab(auditor, client_for):
    customer = build_scored_portfolio()[2]
    client = client_for(auditor)
    url = reverse("scoring:customer", args=[customer.code])

    zh = client.get(url, **ZH)
    en = client.get(url, **EN)

    policy = zh.context["policy"]
    card = zh.context["latest"].scorecard
    assert policy is not None
    assert card is not None
    zh_body, en_body = zh.content.decode(), en.content.decode()
    assert policy.label_zh in zh_body
    assert card.name_zh in zh_body
    assert policy.label in en_body
    assert card.name in en_body
    assert card.name_zh not in en_body
