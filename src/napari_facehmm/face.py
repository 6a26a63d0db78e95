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

#: The built-in tracker's landmarks: each of the 21 landmarks as the mean of
#: one or more vertices of MediaPipe's 468-vertex face mesh (vertex numbers
#: as in MediaPipe's canonical face model). Chosen from the landmark
#: definitions (see :mod:`napari_facehmm.synthetic.face`); a picture is in
#: ``docs/facemesh-landmarks.png``.
#:
#: - eyelids: the centre vertex of the upper and lower lid contour;
#: - brows: the mesh draws the upper and the lower edge of each brow, the
#:   landmarks are on its centre line, so each is the mean of an upper-edge
#:   and a lower-edge vertex (the middle one of two such pairs above the pupil);
#: - nose: ``nose1`` the bridge between the eyes, ``nose2`` the base of the
#:   nose (subnasale), ``nose3``/``nose4`` the wings (two vertices of each ala);
#: - lips: the middles of the outer upper and lower lip contour and the corners;
#: - ears: the mesh has no ears; the face outline at ear level stands for them
#:   (a silhouette point, so it slides over the cheek as the head turns);
#: - chin: the lowest midline vertex.
FACEMESH_VERTICES: dict[str, tuple[int, ...]] = {
    "lefteye1": (386,),
    "lefteye2": (374,),
    "righteye1": (159,),
    "righteye2": (145,),
    "leyebrow1": (336, 285),
    "leyebrow2": (334, 296, 282, 295),
    "leyebrow3": (293, 283),
    "reyebrow1": (107, 55),
    "reyebrow2": (105, 66, 52, 65),
    "reyebrow3": (63, 53),
    "nose1": (168,),
    "nose2": (94,),
    "nose3": (358, 279),
    "nose4": (129, 49),
    "uplip": (0,),
    "llip": (291,),
    "lowlip": (17,),
    "rlip": (61,),
    "rear": (234,),
    "chin": (152,),
    "lear": (454,),
}

#: Vertices of MediaPipe's face mesh (without the iris refinement)
N_FACEMESH_VERTICES = 468
