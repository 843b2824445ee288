"""The status patch: a JSON merge patch computed against the status as stored."""

from canary.operator.tick import merge_patch


def test_a_field_the_server_never_had_is_written_even_when_it_equals_the_model_default() -> None:
    stored = {"phase": "Initialized"}
    new = {"phase": "Progressing", "canaryWeight": 0}
    assert merge_patch(stored, new) == {"phase": "Progressing", "canaryWeight": 0}


def test_nested_keys_that_went_away_are_deleted_and_unchanged_ones_left_out() -> None:
    stored = {"phase": "Failed", "gitops": {"pending": {"verdict": "rolled-back"}, "appliedRevision": "a"}}
    new = {"phase": "Failed", "gitops": {"appliedRevision": "a", "lastWrite": {"commit": "c"}}}
    assert merge_patch(stored, new) == {"gitops": {"pending": None, "lastWrite": {"commit": "c"}}}


def test_lists_are_replaced_whole() -> None:
    stored = {"conditions": [{"type": "Ready", "status": "True"}]}
    new = {"conditions": [{"type": "Ready", "status": "False"}]}
    assert merge_patch(stored, new) == new
