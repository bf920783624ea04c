"""Migration 0006: public artefacts stored from private inputs become private; nothing becomes public."""
import importlib

import pytest
from django.apps import apps

import factories as f
from modules_registry.models import BaseModel, Build, Decomposition, Evaluation, Module

migration = importlib.import_module("modules_registry.migrations.0006_derived_artefacts_as_private_as_inputs")
pytestmark = pytest.mark.django_db


def test_public_artefacts_of_private_inputs_become_private(user, other_user):
    secret = f.make_dataset(user, name="alice-secret", visibility="private")
    public_data = f.make_dataset(user, name="open-digits")
    leaked = f.make_model(user, secret, name="public-on-secret")  # public, trained on a private data set
    evaluation = f.make_evaluation(user, leaked)
    decomposition = f.make_decomposition(user, leaked)
    build = f.make_build(user, list(decomposition.modules.order_by("class_index"))[:2])
    fine = f.make_model(user, public_data, name="public-on-public")
    fine_decomposition = f.make_decomposition(user, fine)
    mine_private = f.make_model(other_user, public_data, name="bob-private", visibility="private")
    assert {leaked.visibility, evaluation.visibility, decomposition.visibility, build.visibility} == {"public"}

    migration.as_private_as_inputs(apps, None)

    assert BaseModel.objects.get(pk=leaked.pk).visibility == "private"
    assert Evaluation.objects.get(pk=evaluation.pk).visibility == "private"
    assert Decomposition.objects.get(pk=decomposition.pk).visibility == "private"
    assert set(Module.objects.filter(decomposition=decomposition).values_list("visibility", flat=True)) == {"private"}
    assert Build.objects.get(pk=build.pk).visibility == "private"
    # what was public from public inputs stays public; nothing private becomes public
    assert BaseModel.objects.get(pk=fine.pk).visibility == "public"
    assert set(Module.objects.filter(decomposition=fine_decomposition).values_list("visibility", flat=True)) == {"public"}
    assert BaseModel.objects.get(pk=mine_private.pk).visibility == "private"
