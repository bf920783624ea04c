"""The model card's description (Markdown, rendered safely) and tags, edited by the owner only."""
import pytest
from django.test import Client
from django.urls import reverse

import factories as f

pytestmark = pytest.mark.django_db

HOSTILE = ("## Trained on digits\n\n* grey 16x16\n\n<script>alert(1)</script> <img src=x onerror=alert(2)>\n\n"
           "[click](javascript:alert(3)) [docs](https://example.org/doc)")


@pytest.fixture
def model(user):
    return f.make_model(user, f.make_dataset(user))


def test_the_owner_edits_and_everyone_sees_safe_markdown_and_tags(alice_client, model, other_user):
    url = reverse("frontend:model_card_edit", args=[model.pk])
    response = alice_client.post(url, {"description": HOSTILE, "tags": "Digits, grey,digits"})
    assert response.status_code == 302 and response["Location"].endswith(f"/models/{model.pk}/#about")
    model.refresh_from_db()
    assert model.tags == ["digits", "grey"]
    viewer = Client()
    viewer.force_login(other_user)
    html = viewer.get(reverse("frontend:model_detail", args=[model.pk])).content.decode()
    about = html[html.index('id="about"'):html.index("</section>", html.index('id="about"'))]
    assert "<h2>Trained on digits</h2>" in about and "<li>grey 16x16</li>" in about
    assert "<script>" not in about and "&lt;script&gt;" in about and "<img" not in about
    assert 'href="javascript:' not in about
    assert 'href="https://example.org/doc" rel="nofollow noopener noreferrer"' in about
    assert f'{reverse("frontend:model_list")}?tag=grey' in about
    assert "Edit description and tags" not in about  # not the owner
    listed = viewer.get(reverse("frontend:model_list") + "?tag=GREY").content.decode()
    assert model.name in listed
    assert model.name not in viewer.get(reverse("frontend:model_list") + "?tag=gre").content.decode()


def test_bad_tags_show_under_the_field_and_change_nothing(alice_client, model):
    response = alice_client.post(reverse("frontend:model_card_edit", args=[model.pk]),
                                 {"description": "new words", "tags": "fine, not fine!"})
    assert response.status_code == 400
    assert "is not valid" in response.content.decode() and "<details class=\"card-edit\" open>" in response.content.decode()
    model.refresh_from_db()
    assert model.description == "" and model.tags == []


def test_others_cannot_edit(client, other_user, model):
    url = reverse("frontend:model_card_edit", args=[model.pk])
    assert client.post(url, {"description": "x"}).status_code == 302  # to the login page
    client.force_login(other_user)
    assert client.post(url, {"description": "x", "tags": ""}).status_code == 403
    model.refresh_from_db()
    assert model.description == ""
