"""The napari side: everything that builds napari layers, and the plugin's npe2 contributions.

It sits above the core (``io``, ``features``, ``hmm``, ...) and below the docks
(``widgets``) and ``commands``, which use it to show a session. Importing the
package imports no module of it; only :mod:`.layers` imports napari when
imported, the readers and the writer import napari inside functions, and the
pure conversions never do (they run without Qt and are tested without a window).

- :mod:`.convert`: pure conversions between a ``LandmarkSeries`` and points /
  skeleton-vector layer data (and back, for label points).
- :mod:`.state_colors`: pure conversions of state sequences: points coloured by
  state, frames looked up by state, the ethogram band image.
- :mod:`.video_frames`: a video as a lazy image array (frames decoded on demand).
- :mod:`.readers`: npe2 readers of videos and landmark files; the guard that
  turns the project's errors into notifications; video and landmark layer tuples.
- :mod:`.session`: npe2 reader of session folders (cameras side by side, 3D
  series in the metadata).
- :mod:`.writer`: npe2 writer of label points as DeepLabCut ``CollectedData``.
- :mod:`.sample_data`: npe2 sample data, the cached synthetic session.
- :mod:`.layers`: the plugin's points layer type (:class:`~.layers.FacePoints`,
  a cached extent) and adding layers and sessions to a viewer.

Named ``_napari`` rather than ``napari``: importing a subpackage
``napari_facehmm.napari`` binds the name ``napari`` in ``napari_facehmm``'s own
namespace (over any ``import napari`` there), ``from .. import napari`` in a
dock would quietly give the subpackage instead of napari, and a script run
from inside the source folder would find it before the real ``napari``. The
leading underscore follows napari's own ``_qt`` and ``_vispy``. ``viewer``,
the other candidate, is the name of every napari ``Viewer`` variable in the
docks (``self.viewer``, ``open_session(viewer, folder)``).
"""
