"""The decomposition page (#18.6): every figure names its data split, epochs count from 1 as the job log does, and
each module is compared with the base model's F1 for its class, weak ones marked."""
import re

import pytest
from django.urls import reverse

import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def decomposition(user, hub):
    base_f1 = [0.95] * 10
    base_f1[8] = 0.909
    metrics = {"base_class_f1": base_f1, "weak_module_margin": 0.15,
               "weak_modules": [{"class_index": 8, "class_name": "8", "f1": 0.296, "base_f1": 0.909}]}
    decomposition = f.make_decomposition(user, hub["model"], with_modules=False, metrics=metrics)
    for i in range(10):
        f.make_module(decomposition, i, f1=0.296 if i == 8 else 0.94)
    return decomposition


def test_figures_name_their_split_and_epochs_count_from_one(client, decomposition):
    html = client.get(reverse("frontend:decomposition_detail", args=[decomposition.pk])).content.decode()
    stats = html[html.index('<dl class="stats">'):html.index("</dl>")]
    assert stats.count("test split") == 2 and "validation split" in stats
    assert re.search(r"Selected epoch.*?<dd>5 <small>of 6</small>", stats, re.S)  # stored epoch 4 of 0..5
    history = html[html.index('id="hist-h"'):]
    assert "(validation split)" in history[:200] and "Validation accuracy" in history
    epochs = re.findall(r'<tr[^>]*><td class="num">(\d+)</td><td>(?:mask|head)', history)
    assert epochs == ["1", "2", "3", "4", "5", "6"]
    assert "validation split" in html[html.index('id="chart-h"'):html.index('id="cfg-h"')]


def test_each_module_is_compared_with_the_base_models_f1_for_its_class(client, decomposition):
    html = client.get(reverse("frontend:decomposition_detail", args=[decomposition.pk])).content.decode()
    assert 'id="weak-modules"' in html and "class 8 F1 29.6 % vs 90.9 %" in html
    table = html[html.index('id="versus-base"'):html.index("</table>", html.index('id="versus-base"'))]
    rows = re.findall(r"<tr( class=\"weak\")?><td><a [^>]*>(\d)</a></td><td class=\"num\">([^<]+)</td>"
                      r"<td class=\"num\">([^<]+)</td><td class=\"num\">([^<]+)</td>", table)
    assert len(rows) == 10
    weak = [r for r in rows if r[0]]
    assert weak == [(' class="weak"', "8", "29.6 %", "90.9 %", "-61.3 %")]
    assert table.count("far below the base model") == 1


def test_an_older_decomposition_without_base_f1_says_so(client, hub):
    html = client.get(reverse("frontend:decomposition_detail", args=[hub["decomposition"].pk])).content.decode()
    assert "did not store the base model's per-class F1" in html
