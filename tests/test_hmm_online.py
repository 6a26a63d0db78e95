"""OnlineDecoder: one frame at a time, known answers from the offline forward-backward.

- lag 0: the filtered distribution p(state_t | x_1..t) is the offline
  posterior of the last frame of x_1..t;
- a lag as long as the recording (then flush): every frame's posterior is the
  offline forward-backward posterior of the whole recording;
- a short lag agrees with offline decoding on almost every frame of sticky
  states.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_facehmm.errors import DataError
from napari_facehmm.hmm import FaceHMM
from napari_facehmm.hmm.online import OnlineDecoder

from test_hmm_model import sample_known_hmm

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fitted_data():
    X, truth = sample_known_hmm(n_frames=600, seed=3)
    model = FaceHMM(n_states=3, n_restarts=1, n_iter=30, random_state=0).fit(X)
    return model, X, truth


def _push_all(decoder, X):
    decided = []
    for row in X:
        decided.extend(decoder.push(row))
    return decided + decoder.flush()


def test_lag_zero_is_the_filtered_distribution(fitted_data):
    model, X, _ = fitted_data
    decided = _push_all(OnlineDecoder(model, lag=0), X)
    assert [d.frame for d in decided] == list(range(len(X)))
    for t in (0, 1, 17, 250, len(X) - 1):
        offline_last = model.predict_proba(X[: t + 1])[-1]  # smoothing at the last frame = filtering
        np.testing.assert_allclose(decided[t].posterior, offline_last, rtol=1e-9, atol=1e-12)


def test_a_lag_as_long_as_the_recording_is_forward_backward(fitted_data):
    model, X, _ = fitted_data
    X = X[:120]
    decoder = OnlineDecoder(model, lag=len(X))
    assert all(decoder.push(row) == [] for row in X)  # nothing decided before the lag has passed
    decided = decoder.flush()
    posterior = np.array([d.posterior for d in decided])
    np.testing.assert_allclose(posterior, model.predict_proba(X), rtol=1e-8, atol=1e-10)


def test_a_short_lag_agrees_with_offline_decoding(fitted_data):
    model, X, _ = fitted_data
    offline = model.predict_proba(X).argmax(axis=1)
    agreement = {}
    for lag in (0, 5):
        states = np.array([d.state for d in _push_all(OnlineDecoder(model, lag=lag), X)])
        agreement[lag] = float(np.mean(states == offline))
    assert agreement[5] >= 0.99
    assert agreement[5] >= agreement[0]


def test_frames_without_features_get_no_state_and_the_sequence_goes_on(fitted_data):
    model, X, _ = fitted_data
    rows = [row for row in X[:50]]
    rows[20] = None
    rows[21] = np.full(X.shape[1], np.nan)
    decided = _push_all(OnlineDecoder(model, lag=2), rows)
    states = [d.state for d in decided]
    assert states[20] == -1 and states[21] == -1 and decided[20].probability == 0.0
    assert all(s >= 0 for i, s in enumerate(states) if i not in (20, 21))
    # a gap is a step without evidence: its distribution is the transitions' prediction
    assert np.isclose(decided[20].posterior.sum(), 1.0)


def test_reset_starts_a_new_sequence(fitted_data):
    model, X, _ = fitted_data
    decoder = OnlineDecoder(model, lag=0)
    _push_all(decoder, X[:40])
    decoder.reset()
    again = _push_all(decoder, X[:10])
    np.testing.assert_allclose(again[-1].posterior, model.predict_proba(X[:10])[-1], rtol=1e-9)
    assert again[0].frame == 0


def test_bad_input_is_refused(fitted_data):
    model, X, _ = fitted_data
    with pytest.raises(DataError, match="fitted model"):
        OnlineDecoder(FaceHMM(n_states=2))
    with pytest.raises(DataError, match="lag"):
        OnlineDecoder(model, lag=-1)
    with pytest.raises(DataError, match="model was fit on 3"):
        OnlineDecoder(model).push(np.zeros(5))
