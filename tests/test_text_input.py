"""Lists typed into the docks (frame numbers, landmark names, skeleton edges), parsed without Qt."""

from __future__ import annotations

import pytest

from napari_facehmm.errors import DataError
from napari_facehmm.text_input import parse_frame_list, parse_keypoint_list, parse_skeleton


def test_frame_list_takes_commas_semicolons_and_spaces_in_the_order_typed():
    assert parse_frame_list("12, 40 41;300") == [12, 40, 41, 300]
    assert parse_frame_list(" 7 ,, 3 ") == [7, 3]
    assert parse_frame_list("") == []


@pytest.mark.parametrize("text, message", [("12, x", "whole numbers"), ("1.5", "whole numbers"), ("4, -2", "start at 0")])
def test_frame_list_refuses_what_is_not_a_frame_number(text, message):
    with pytest.raises(DataError, match=message) as caught:
        parse_frame_list(text)
    assert repr(text) in str(caught.value)


def test_keypoint_list_one_per_line_or_comma_separated():
    assert parse_keypoint_list("nose1\n  chin \n\nlear, rear") == ["nose1", "chin", "lear", "rear"]
    with pytest.raises(DataError, match="more than once: chin"):
        parse_keypoint_list("chin\nnose1\nchin")


def test_skeleton_edges():
    assert parse_skeleton("nose1-chin\nlear - rear, a-b") == [("nose1", "chin"), ("lear", "rear"), ("a", "b")]
    for bad in ("nose1", "a-b-c", "a-"):
        with pytest.raises(DataError, match="one edge per line as 'a-b'"):
            parse_skeleton(bad)
