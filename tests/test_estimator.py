"""FaultClassifier: scikit-learn's estimator checks, and the sklearn tools a notebook uses."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

import faultlab
from faultlab.estimator import FaultClassifier

#: The checks run on one classical and one deep model, with ``tabular=True`` because
#: scikit-learn's checks feed small feature tables (2-10 columns), not signal windows. Every
#: check applies and passes except ``check_array_api_input`` (scikit-learn skips it itself:
#: it needs SCIPY_ARRAY_API and array-namespace inputs; faultlab models take numpy arrays).
#: Convolutional and recurrent models are not run through the checks: their input must be a
#: signal window long enough for their strides (a 2-column table is not one); the tests
#: below run cnn1d through clone / cross_val_score / GridSearchCV on synthetic windows.
CHECKED = [
    FaultClassifier(model="rf", params={"n_estimators": 10}, tabular=True),
    FaultClassifier(
        model="mlp",
        params={"hidden": [32]},
        epochs=10,
        lr=0.03,
        tabular=True,
        training={"num_threads": 1},
    ),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


@pytest.fixture(scope="module")
def windows():
    """A small synthetic set: 4 classes x 4 loads, 2 s recordings, 512-sample windows."""
    return faultlab.load_windows(
        dataset="synthetic", synthetic={"sizes": [0.014], "duration_s": 2.0}, window=512
    )


def test_constructor_args_are_the_params_and_clone_keeps_them():
    clf = FaultClassifier(model="rf", params={"n_estimators": 7}, epochs=3, random_state=1)
    params = clf.get_params()
    assert params["model"] == "rf" and params["params"] == {"n_estimators": 7}
    assert params["epochs"] == 3 and params["random_state"] == 1
    twin = clone(clf)
    assert twin.get_params() == params and twin is not clf
    twin.set_params(params__n_estimators=9, training__optimizer="sgd", lr=0.01)
    assert twin.params == {"n_estimators": 9} and twin.training == {"optimizer": "sgd"}
    assert clf.params == {"n_estimators": 7}  # the original's dict is untouched


def test_grouped_cross_validation_in_a_pipeline(windows):
    """The must-show call on small data: grouped CV never splits a recording."""
    pipe = Pipeline(
        [
            ("scale", FunctionTransformer(lambda X: X * 2.0)),
            ("clf", FaultClassifier(model="rf", params={"n_estimators": 30})),
        ]
    )
    scores = cross_val_score(
        pipe, windows.X, windows.y["class"], groups=windows.groups, cv=GroupKFold(4)
    )
    assert scores.shape == (4,) and scores.mean() > 0.5  # 4 classes: chance is 0.25


def test_cnn1d_fits_windows_and_2d_input_with_string_labels(windows):
    names = np.asarray(windows.classes["class"])[windows.y["class"]]
    clf = FaultClassifier(model="cnn1d", epochs=1, batch_size=128, training={"num_threads": 1})
    clf.fit(windows.X[:, 0, :], names)  # [n, L] is one channel
    assert list(clf.classes_) == sorted(set(names))
    proba = clf.predict_proba(windows.X[:20])  # [n, 1, L] is the same input
    assert proba.shape == (20, 4) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(clf.predict(windows.X[:20])) <= set(names)
    assert len(clf.history_) == 1 and "train_loss" in clf.history_
    with pytest.raises(ValueError, match="fitted on"):
        clf.predict(windows.X[:5, :, :256])
    again = pickle.loads(pickle.dumps(clf))
    assert np.allclose(again.predict_proba(windows.X[:5]), proba[:5])


def test_grid_search_over_a_model_option(windows):
    grid = GridSearchCV(
        FaultClassifier(model="rf"),
        {"params": [{"n_estimators": 5}, {"n_estimators": 20}]},
        cv=GroupKFold(2),
    )
    grid.fit(windows.X, windows.y["class"], groups=windows.groups)
    assert grid.best_params_["params"]["n_estimators"] in (5, 20)
    assert (
        grid.best_estimator_.model_.params.n_estimators
        == grid.best_params_["params"]["n_estimators"]
    )


def test_bad_options_are_value_errors(windows):
    X, y = windows.X[::10], windows.y["class"][::10]
    with pytest.raises(ValueError, match="unknown key for rf"):
        FaultClassifier(model="rf", params={"trees": 3}).fit(X, y)
    with pytest.raises(ValueError, match="unknown model"):
        FaultClassifier(model="nope").fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        FaultClassifier(model="rf").fit(windows.X[:10], np.zeros(10, int))
