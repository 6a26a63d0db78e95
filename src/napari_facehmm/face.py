"""The face landmark set of the reference analysis and its skeleton."""

from __future__ import annotations

#: The 21 landmarks of the reference analysis, in its order.
FACE_KEYPOINTS: tuple[str, ...] = (
    "lefteye1",
    "lefteye2",
    "righteye1",
    "righteye2",
    "leyebrow1",
    "leyebrow2",
    "leyebrow3",
    "reyebrow1",
    "reyebrow2",
    "reyebrow3",
    "nose1",
    "nose2",
    "nose3",
    "nose4",
    "uplip",
    "llip",
    "lowlip",
    "rlip",
    "rear",
    "chin",
    "lear",
)

#: Skeleton edges: eyes, brows, nose loop nose1-nose3-nose2-nose4,
#: lips loop, and rear-chin-lear.
FACE_SKELETON: tuple[tuple[str, str], ...] = (
    ("lefteye1", "lefteye2"),
    ("righteye1", "righteye2"),
    ("leyebrow1", "leyebrow2"),
    ("leyebrow2", "leyebrow3"),
    ("reyebrow1", "reyebrow2"),
    ("reyebrow2", "reyebrow3"),
    ("nose1", "nose3"),
    ("nose3", "nose2"),
    ("nose2", "nose4"),
    ("nose4", "nose1"),
    ("uplip", "llip"),
    ("llip", "lowlip"),
    ("lowlip", "rlip"),
    ("rlip", "uplip"),
    ("rear", "chin"),
    ("chin", "lear"),
)

#: Landmarks that move little with expression: used for rigid alignment.
RIGID_KEYPOINTS: tuple[str, ...] = (
    "nose1",
    "nose2",
    "nose3",
    "nose4",
    "rear",
    "lear",
    "lefteye1",
    "righteye1",
)

#: Default reference landmark for egocentric coordinates.
REFERENCE_KEYPOINT = "nose1"
