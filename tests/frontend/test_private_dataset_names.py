"""#19: a private data set's name is shown only to those who may see the data set (the API already hid it), search
does not match it for others, and what is derived from a private input is private."""
import pytest
from django.core.cache import cache

import factories as f
from modules_registry import selectors
from modules_registry.models import Job, Visibility
from modules_registry.services import registration
from modules_registry.services.decompositions import start_decomposition
from modules_registry.services.models import start_evaluation, start_training

SECRET = "alice-secret-digits"


@pytest.fixture
def secret(user):
    """Alice's private data set; a public model of hers trained on it, evaluated (19.7 %) and decomposed (public
    rows, as the hub wrote them before #19)."""
    dataset = f.make_dataset(user, SECRET, visibility="private")
    model = f.make_model(user, dataset, name="public-digits-model")
    f.make_evaluation(user, model, accuracy=0.197)
    decomposition = f.make_decomposition(user, model)
    return {"dataset": dataset, "model": model, "decomposition": decomposition}


PAGES = ["/models/", "/models/{model}/", "/decompositions/", "/decompositions/{decomposition}/",
         "/?q=public-digits", "/builds/new/"]


def _get(client, secret, page):
    return client.get(page.format(model=secret["model"].pk, decomposition=secret["decomposition"].pk))


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_pages_do_not_show_a_private_data_sets_name_to_others(client, other_user, secret, page):
    cache.clear()
    for who in (None, other_user):
        client.logout()
        if who is not None:
            client.force_login(who)
        elif page == "/builds/new/":
            continue  # a login page for anonymous visitors
        response = _get(client, secret, page)
        assert response.status_code == 200, (page, response.status_code)
        body = response.content.decode()
        assert SECRET not in body, (page, who)
        assert f"/datasets/{secret['dataset'].pk}/" not in body, (page, who)
    assert "a private data set" in _get(client, secret, "/models/{model}/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_the_owner_still_sees_the_name(client, user, secret, page):
    client.force_login(user)
    assert SECRET in _get(client, secret, page).content.decode(), page


@pytest.mark.django_db
def test_search_does_not_match_a_private_data_sets_name_for_others(client, user, other_user, secret):
    assert not any(selectors.search(other_user, "secret-digits").values())
    assert not any(selectors.search(None, "secret-digits").values())
    assert not selectors.modules_filtered(other_user, q="alice-secret").exists()
    assert not selectors.models_filtered(None, q="alice-secret").exists()
    client.force_login(other_user)
    assert "Class 0" not in client.get("/modules/?q=alice-secret").content.decode()
    owner = selectors.search(user, "secret-digits")  # the owner's own search still finds them
    assert owner["models"] and owner["modules"] and owner["datasets"]


@pytest.mark.django_db
def test_what_is_derived_from_a_private_data_set_is_private(user, secret):
    public_model, dataset = secret["model"], secret["dataset"]
    job = start_decomposition(owner=user, model=public_model, dataset=dataset)
    assert job.params["visibility"] == Visibility.PRIVATE
    job = start_training(owner=user, dataset=dataset, name="trained-on-secret", architecture="simcnn",
                         arch_kwargs={"width": 0.125}, config={"epochs": 1}, visibility="public")
    assert job.params["visibility"] == Visibility.PRIVATE
    evaluation = registration.register_evaluation(owner=user, job=None, model=public_model, dataset=dataset,
                                                  split="test", report={"accuracy": 0.197})
    assert evaluation.visibility == Visibility.PRIVATE


@pytest.mark.django_db
def test_others_cannot_use_a_private_data_set_through_a_public_model(other_user, secret):
    from modules_registry.errors import HubError

    for start in (lambda: start_decomposition(owner=other_user, model=secret["model"]),
                  lambda: start_evaluation(owner=other_user, model=secret["model"])):
        with pytest.raises(HubError) as caught:
            start()
        assert caught.value.field == "dataset" and SECRET not in str(caught.value)
        assert "private" in str(caught.value)
    assert not Job.objects.filter(owner=other_user).exists()
