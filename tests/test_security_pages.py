"""Pages that used to fail: the comparison of two plans (a 500: the template read the dict's
``values`` method), and an empty comparison, which must offer a way back.
"""

from __future__ import annotations

import pytest

from security_service import seeded_service


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    with seeded_service(tmp_path_factory, "pages") as s:
        yield s


@pytest.mark.parametrize("username", ["olga", "mert", "admin"])
def test_compare_two_plans(seeded, username):
    browser = seeded.browser(username)
    a, b = seeded.plan_ids
    response = browser.get(f"/compare?plan_id={a}&plan_id={b}")
    assert response.status_code == 200, response.text[:500]
    assert response.text.count('class="chart"') == 6
    assert response.text.count("<rect") == 12  # two bars in each of the six charts
    assert f'href="/projects/{seeded.project_id}"' in response.text


def test_empty_comparison_has_a_way_back(seeded):
    browser = seeded.browser("olga")
    response = browser.get(f"/compare?project_id={seeded.project_id}")
    assert response.status_code == 422
    assert 'id="back"' in response.text and f'href="/projects/{seeded.project_id}"' in response.text
    # Another project's id gives no link into it.
    response = browser.get(f"/compare?project_id={seeded.other_project_id}")
    assert f'href="/projects/{seeded.other_project_id}"' not in response.text
    assert 'href="/" id="back"' in response.text
