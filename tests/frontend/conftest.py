import pytest

import factories as f


@pytest.fixture
def hub(user, other_user):
    """A public data set, model (evaluated, decomposed into 10 modules) of alice, and a private model of bob."""
    dataset = f.make_dataset(user)
    model = f.make_model(user, dataset)
    evaluation = f.make_evaluation(user, model)
    decomposition = f.make_decomposition(user, model)
    private = f.make_model(other_user, dataset, name="bobs-secret", visibility="private")
    private_decomposition = f.make_decomposition(other_user, private, visibility="private")
    return {"dataset": dataset, "model": model, "evaluation": evaluation, "decomposition": decomposition,
            "modules": list(decomposition.modules.order_by("class_index")), "private": private,
            "private_decomposition": private_decomposition}


@pytest.fixture
def alice_client(client, user):
    client.force_login(user)
    return client
