"""Templates resolve from the deployment, case-insensitively; a missing value is an error naming it, never ''."""

from __future__ import annotations

import pytest

from codereflex.validation.templates import UnresolvedTemplate, is_known, lookup, malformed_in, names_in, resolve

CONTEXT = {
    "ecs": {"testListener": {"url": "http://green:8443"}, "green": {"desiredCount": 2, "taskSet": ""}},
    "deployment": {"alarms": ["a", "b"]},
}


def test_a_whole_template_keeps_the_values_type() -> None:
    assert resolve("{{ ecs.green.desiredCount }}", CONTEXT) == 2
    assert resolve(" {{deployment.alarms}} ", CONTEXT) == ["a", "b"]


def test_embedded_templates_become_text() -> None:
    assert resolve({"url": "{{ ecs.testListener.url }}/health?n={{ecs.green.desiredCount}}"}, CONTEXT) == {
        "url": "http://green:8443/health?n=2"
    }


def test_names_match_case_insensitively() -> None:
    assert lookup(CONTEXT, "ECS.TestListener.URL") == "http://green:8443"
    assert is_known("lambda.TARGETVERSION", "lambda")
    assert not is_known("lambda.targetVersion", "ecs")


@pytest.mark.parametrize(
    ("template", "said"),
    [
        ("{{ ecs.prodListener.url }}", "{{ ecs.prodListener.url }} is not known for this deployment (at $.url)"),
        ("{{ ecs.green.taskSet }}", "{{ ecs.green.taskSet }} has no value for this deployment (at $.url)"),
        ("{{ ecs.green }}", "{{ ecs.green }} has no value"),
        ("x{{ deployment.alarms }}", "a list cannot be part of a string"),
    ],
)
def test_unresolved_values_are_errors_that_name_them(template: str, said: str) -> None:
    with pytest.raises(UnresolvedTemplate) as raised:
        resolve({"url": template}, CONTEXT)
    assert said in str(raised.value)


def test_names_and_malformed_braces_are_found_with_where() -> None:
    value = {"a": ["{{ x.y }}", "{{ bad-name }}"], "b": "{x}"}
    assert list(names_in(value)) == [("x.y", "$.a[0]")]
    assert list(malformed_in(value)) == ["$.a[1]"]
