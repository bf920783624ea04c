"""Compare pages: decompositions and builds side by side, picked from their lists."""
import pytest
from django.urls import reverse

import factories as f

pytestmark = pytest.mark.django_db


def _page(client, name, ids):
    return client.get(reverse(name) + "?" + "&".join(f"ids={i}" for i in ids))


def test_two_decompositions_side_by_side_with_their_charts(client, user, hub):
    first = hub["decomposition"]
    second = f.make_decomposition(user, hub["model"], composed_accuracy=0.81, mean_kernel_retention=0.33)
    listing = client.get(reverse("frontend:decomposition_list")).content.decode()
    assert 'id="compare-form"' in listing and f'name="ids" value="{second.pk}"' in listing
    response = _page(client, "frontend:decomposition_compare", [second.pk, first.pk])
    assert response.status_code == 200
    html = response.content.decode()
    table = html[html.index('id="compare-table"'):html.index("</table>", html.index('id="compare-table"'))]
    header = table[:table.index("</thead>")]
    assert header.index(f"#{second.pk}") < header.index(f"#{first.pk}")  # in the order picked
    assert "81.0 %" in table and "33.0 %" in table
    assert html.count("<svg") >= 3  # F1 per class, and one epoch chart each


def test_two_builds_side_by_side(client, user, hub):
    a = f.make_build(user, hub["modules"][:3])
    b = f.make_build(user, hub["modules"][3:5], metrics={"accuracy": 0.71, "params": 50000, "flops": 1000,
                                                        "footprint": {"build": {"latency_ms_b1": 0.42}}})
    assert 'id="compare-form"' in client.get(reverse("frontend:build_list")).content.decode()
    html = _page(client, "frontend:build_compare", [a.pk, b.pk]).content.decode()
    assert "71.0 %" in html and "93.0 %" in html and "0.42" in html and "<svg" in html


@pytest.mark.parametrize("ids", [[], ["1"], ["1", "x"], [str(i) for i in range(1, 8)]])
def test_a_bad_pick_says_what_to_fix(client, hub, ids):
    response = client.get(reverse("frontend:decomposition_compare") + "?" + "&".join(f"ids={i}" for i in ids))
    assert response.status_code == 400 and "form-errors" in response.content.decode()


def test_a_private_entry_of_someone_else_is_a_404(client, hub):
    response = _page(client, "frontend:decomposition_compare", [hub["decomposition"].pk, hub["private_decomposition"].pk])
    assert response.status_code == 404
