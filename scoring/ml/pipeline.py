"""PD model pipelines that work with any feature set (behaviour, financials, custom attributes only).

``build_pipeline(algorithm, numeric_cols, categorical_cols)`` returns an unfitted :class:`PDModel`:

* **logistic** — numeric → winsorised at the training 0.5 % / 99.5 % quantiles, median-imputed and
  standardised, plus a 0/1 missing indicator where training data had gaps (scaling rather than
  binning keeps the score smooth and monotone in each ratio); categorical → "missing" as its own level, one-hot with rare levels pooled (``min_frequency``) and
  unseen levels mapped to the pooled level. ``LogisticRegressionCV`` picks the L2 strength ``C`` by
  stratified 5-fold CV on log-loss (grouped by customer when customers have several rows).
* **gbm** — categoricals ordinal-encoded (rare pooled, unseen and missing → NaN) and handed to
  ``HistGradientBoostingClassifier`` as native categorical features; numerics pass through (NaN is
  handled natively); the number of boosting rounds comes from early stopping on a held-out CV fold.

Both are calibrated: out-of-fold raw scores (``cross_val_predict`` of the decision function) fit a
Platt (sigmoid) map, or an isotonic map when there are enough defaults; the scoring pipeline is then
refit on all rows it is given. One pipeline + one monotone calibration map keeps explanations exact
for the linear model (see ``scoring.ml.explain``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

ALGORITHMS = ("logistic", "gbm")
CALIBRATIONS = ("auto", "sigmoid", "isotonic", "none")
MISSING_LEVEL = "__missing__"
NAME_SEPARATOR = "\x1f"
PD_FLOOR = 1e-5
# Isotonic calibration needs plenty of events; below this Platt scaling is the safer choice.
ISOTONIC_MIN_ROWS = 5000
ISOTONIC_MIN_EVENTS = 300
LOGISTIC_CS = tuple(np.logspace(-3, 2, 11))
GBM_MAX_ITER = 400
GBM_PATIENCE = 20


def infer_feature_types(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """Split a frame's columns into numeric and categorical by dtype (booleans count as numeric)."""
    numeric, categorical = [], []
    for column in frame.columns:
        if column in exclude:
            continue
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(column)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            continue  # dates are not features; the catalogue turns them into ages
        else:
            sample = frame[column].dropna()
            if len(sample) and sample.map(lambda v: isinstance(v, bool)).all():
                numeric.append(column)
            else:
                categorical.append(column)
    return numeric, categorical


class FrameCoercer(TransformerMixin, BaseEstimator):
    """Take the model's columns from any frame: numerics as float (inf → NaN), categoricals as str.

    Missing columns become all-missing, extra columns are ignored, so a model keeps scoring when the
    catalogue grows or an attribute is retired.
    """

    def __init__(self, numeric_cols=(), categorical_cols=()):
        self.numeric_cols = numeric_cols
        self.categorical_cols = categorical_cols

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def transform(self, X) -> pd.DataFrame:
        index = X.index if isinstance(X, pd.DataFrame) else None
        n = len(X)
        data = {}
        for column in self.numeric_cols:
            if column in X:
                values = X[column]
                if pd.api.types.is_bool_dtype(values.dtype) or values.dtype == object:
                    values = values.map(lambda v: float(v) if isinstance(v, bool) else v)
                values = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
                values[~np.isfinite(values)] = np.nan
            else:
                values = np.full(n, np.nan)
            data[column] = values
        for column in self.categorical_cols:
            if column in X:
                values = X[column]
                text = values.astype(str).to_numpy(dtype=object)
                text[values.isna().to_numpy()] = np.nan
            else:
                text = np.full(n, np.nan, dtype=object)
            data[column] = text
        return pd.DataFrame(data, index=index, columns=[*self.numeric_cols, *self.categorical_cols])

    def get_feature_names_out(self, input_features=None):
        return np.asarray([*self.numeric_cols, *self.categorical_cols], dtype=object)


class Winsorize(TransformerMixin, BaseEstimator):
    """Clip each column to its training quantiles, so one extreme customer cannot dominate a linear score."""

    def __init__(self, quantile: float = 0.005):
        self.quantile = quantile

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        present = ~np.isnan(X).all(axis=0) if X.size else np.zeros(X.shape[1], dtype=bool)
        self.lower_ = np.full(X.shape[1], -np.inf)
        self.upper_ = np.full(X.shape[1], np.inf)
        if present.any():
            self.lower_[present] = np.nanquantile(X[:, present], self.quantile, axis=0)
            self.upper_[present] = np.nanquantile(X[:, present], 1 - self.quantile, axis=0)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.lower_, self.upper_)  # NaN stays NaN

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class FillAllMissing(TransformerMixin, BaseEstimator):
    """Columns with no value at all in the rows a tree is fitted on (it happens in small CV folds) are
    set to 0: histogram binning cannot bin an empty column, and a constant carries no split anyway."""

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.empty_ = np.flatnonzero(np.isnan(X).all(axis=0)) if X.size else np.array([], dtype=int)
        return self

    def transform(self, X):
        X = np.array(X, dtype=float)
        if len(self.empty_):
            X[:, self.empty_] = 0.0
        return X


def _min_frequency(n_samples: int | None) -> int:
    # Pool levels seen fewer than ~0.5 % of rows (at least 5): their coefficients would be noise.
    return max(5, int(0.005 * (n_samples or 0)))


def _one_hot_name(feature: str, category) -> str:
    # A separator no feature name contains, so explanations can map one-hot columns back to features.
    return f"{feature}{NAME_SEPARATOR}{category}"


def _logistic_preprocessor(numeric_cols, categorical_cols, *, n_samples: int | None):
    transformers = []
    if numeric_cols:
        transformers.append(("num", Pipeline([
            ("winsorize", Winsorize(0.005)),
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]), list(numeric_cols)))
        # 0/1 columns for "value missing" (only where training data had gaps), left unscaled like dummies.
        transformers.append(("miss", MissingIndicator(features="missing-only", error_on_new=False),
                             list(numeric_cols)))
    if categorical_cols:
        transformers.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL, keep_empty_features=True)),
            ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", sparse_output=False,
                                     min_frequency=_min_frequency(n_samples), feature_name_combiner=_one_hot_name)),
        ]), list(categorical_cols)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)


def design_features(preprocess: ColumnTransformer, numeric_cols) -> list[str]:
    """The original feature behind each column of the fitted linear preprocessor's output."""
    owners = []
    for name in preprocess.get_feature_names_out():
        group, _, rest = str(name).partition("__")
        if group == "cat":
            owners.append(rest.split(NAME_SEPARATOR, 1)[0])
        elif group == "miss":
            owners.append(rest.removeprefix("missingindicator_"))
        else:
            owners.append(rest)
    return owners


def _gbm_preprocessor(numeric_cols, categorical_cols, *, n_samples: int | None):
    transformers = []
    if categorical_cols:
        transformers.append(("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                                   encoded_missing_value=np.nan,
                                                   min_frequency=_min_frequency(n_samples),
                                                   max_categories=250), list(categorical_cols)))
    if numeric_cols:
        transformers.append(("num", "passthrough", list(numeric_cols)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def _scorer(algorithm, numeric_cols, categorical_cols, *, n_samples, random_state, C=1.0, n_iter=None):
    numeric_cols, categorical_cols = list(numeric_cols), list(categorical_cols)
    coerce = FrameCoercer(numeric_cols, categorical_cols)
    if algorithm == "logistic":
        classifier = LogisticRegression(C=C, max_iter=2000)
        preprocess = _logistic_preprocessor(numeric_cols, categorical_cols, n_samples=n_samples)
    elif algorithm == "gbm":
        classifier = HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=n_iter or GBM_MAX_ITER, max_leaf_nodes=15,
            min_samples_leaf=max(20, (n_samples or 0) // 200), l2_regularization=1.0,
            categorical_features=[True] * len(categorical_cols) + [False] * len(numeric_cols) or None,
            early_stopping=n_iter is None, validation_fraction=0.15, n_iter_no_change=GBM_PATIENCE,
            random_state=random_state)
        preprocess = Pipeline([("encode", _gbm_preprocessor(numeric_cols, categorical_cols, n_samples=n_samples)),
                               ("fill_empty", FillAllMissing())])
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    return Pipeline([("coerce", coerce), ("preprocess", preprocess), ("classifier", classifier)])


def cv_splits(y: np.ndarray, groups=None, *, n_splits: int = 5, random_state: int = 0) -> list:
    """Stratified folds; with ``groups`` (e.g. customer ids) a customer's rows never straddle two folds."""
    n_minority = int(min(y.sum(), len(y) - y.sum()))
    n_splits = max(2, min(n_splits, n_minority))
    placeholder = np.zeros(len(y))
    if groups is not None and len(np.unique(groups)) < len(y):
        folds = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
        return list(folds.split(placeholder, y, groups))
    return list(StratifiedKFold(n_splits, shuffle=True, random_state=random_state).split(placeholder, y))


class PDModel(ClassifierMixin, BaseEstimator):
    """A scoring pipeline plus a monotone calibration map from its raw log-odds to a PD.

    ``decision_function`` gives the raw log-odds, ``predict_proba`` the calibrated PD,
    ``log_odds`` the calibrated log-odds. Fitted attributes: ``scorer_`` (the sklearn Pipeline),
    ``calibration_`` (method used), ``platt_`` ((slope, intercept) for sigmoid), ``isotonic_``,
    ``reference_`` (per-feature reference values: medians / modes) and, for the linear model,
    ``design_mean_`` (mean of each transformed column on the training rows).
    """

    def __init__(self, algorithm="logistic", numeric_cols=(), categorical_cols=(), calibration="auto",
                 cv=5, random_state=0):
        self.algorithm = algorithm
        self.numeric_cols = numeric_cols
        self.categorical_cols = categorical_cols
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state

    @property
    def features(self) -> list[str]:
        return [*self.numeric_cols, *self.categorical_cols]

    def _calibration_method(self, y: np.ndarray) -> str:
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"unknown calibration {self.calibration!r}")
        if self.calibration != "auto":
            return self.calibration
        events = int(min(y.sum(), len(y) - y.sum()))
        return "isotonic" if len(y) >= ISOTONIC_MIN_ROWS and events >= ISOTONIC_MIN_EVENTS else "sigmoid"

    def fit(self, X: pd.DataFrame, y, groups=None) -> PDModel:
        """Fit; ``groups`` (customer ids when a customer has several rows) keeps a customer in one CV fold."""
        y = np.asarray(y).astype(int)
        if set(np.unique(y)) != {0, 1}:
            raise ValueError("training needs both defaulted (1) and non-defaulted (0) rows")
        if not self.features:
            raise ValueError("a model needs at least one feature")
        self.classes_ = np.array([0, 1])
        splits = cv_splits(y, None if groups is None else np.asarray(groups), n_splits=self.cv,
                           random_state=self.random_state)
        self.calibration_ = self._calibration_method(y)
        self.platt_ = (1.0, 0.0)
        self.isotonic_ = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            C, n_iter = 1.0, None
            if self.algorithm == "logistic":
                C = self._tune_C(X, y, splits)
            else:
                n_iter = self._tune_iterations(X, y, splits)
            scorer = _scorer(self.algorithm, self.numeric_cols, self.categorical_cols, n_samples=len(y),
                             random_state=self.random_state, C=C, n_iter=n_iter)
            if self.calibration_ != "none":
                raw = cross_val_predict(clone(scorer), X, y, cv=splits, method="decision_function")
                if self.calibration_ == "sigmoid":
                    platt = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
                    self.platt_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
                else:
                    self.isotonic_ = IsotonicRegression(y_min=PD_FLOOR, y_max=1 - PD_FLOOR, out_of_bounds="clip",
                                                        increasing=True).fit(raw, y)
            self.scorer_ = scorer.fit(X, y)
        coerced = self.scorer_.named_steps["coerce"].transform(X)
        reference = {}
        for column in self.numeric_cols:
            present = coerced[column].dropna()
            reference[column] = float(present.median()) if len(present) else np.nan
        for column in self.categorical_cols:
            mode = coerced[column].mode(dropna=True)
            reference[column] = str(mode.iloc[0]) if len(mode) else np.nan
        self.reference_ = reference
        if self.algorithm == "logistic":
            preprocess = self.scorer_.named_steps["preprocess"]
            self.design_mean_ = np.asarray(preprocess.transform(coerced), dtype=float).mean(axis=0)
            self.design_features_ = design_features(preprocess, self.numeric_cols)
        self.n_features_in_ = len(self.features)
        return self

    def _tune_C(self, X: pd.DataFrame, y: np.ndarray, splits: list) -> float:
        """L2 strength by cross-validated log-loss over ``LOGISTIC_CS`` (one regularisation path per fold)."""
        tuner = _scorer("logistic", self.numeric_cols, self.categorical_cols, n_samples=len(y),
                        random_state=self.random_state)
        tuner.steps[-1] = ("classifier", LogisticRegressionCV(
            Cs=list(LOGISTIC_CS), l1_ratios=(0.0,), cv=splits, scoring="neg_log_loss", max_iter=2000,
            use_legacy_attributes=False, random_state=self.random_state))
        tuner.fit(X, y)
        self.C_ = float(np.ravel(tuner.named_steps["classifier"].C_)[0])
        return self.C_

    def _tune_iterations(self, X: pd.DataFrame, y: np.ndarray, splits: list) -> int:
        """Boosting rounds by early stopping on the first CV fold's held-out part (grouped like the folds,
        unlike the estimator's own random validation slice), then fixed for every later fit."""
        train, held_out = splits[0]
        scorer = _scorer("gbm", self.numeric_cols, self.categorical_cols, n_samples=len(train),
                         random_state=self.random_state)
        prepare = Pipeline(scorer.steps[:-1]).fit(X.iloc[train], y[train])
        classifier = scorer.named_steps["classifier"]
        classifier.fit(prepare.transform(X.iloc[train]), y[train],
                       X_val=prepare.transform(X.iloc[held_out]), y_val=y[held_out])
        self.n_iter_ = max(10, int(classifier.n_iter_) - GBM_PATIENCE)
        return self.n_iter_

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(self.scorer_.decision_function(X), dtype=float)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw log-odds to PDs."""
        raw = np.asarray(raw, dtype=float)
        if self.calibration_ == "isotonic":
            pd_ = self.isotonic_.predict(raw)
        else:
            slope, intercept = self.platt_
            pd_ = 1.0 / (1.0 + np.exp(-(slope * raw + intercept)))
        return np.clip(pd_, PD_FLOOR, 1 - PD_FLOOR)

    @property
    def log_odds_slope(self) -> float:
        """d(calibrated log-odds)/d(raw log-odds) — exact for Platt, 1 as a convention for isotonic."""
        return self.platt_[0] if self.calibration_ in ("sigmoid", "none") else 1.0

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        return self.calibrate(self.decision_function(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        pd_ = self.predict_pd(X)
        return np.column_stack([1 - pd_, pd_])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_pd(X) >= 0.5).astype(int)

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        pd_ = self.predict_pd(X)
        return np.log(pd_ / (1 - pd_))

    def hyperparameters(self) -> dict:
        """The tuned settings worth recording with a model version."""
        classifier = self.scorer_.named_steps["classifier"]
        info = {"algorithm": self.algorithm, "calibration": self.calibration_}
        if self.algorithm == "logistic":
            info["C"] = float(classifier.C)
        else:
            info["n_iter"] = int(classifier.n_iter_)
            info["learning_rate"] = float(classifier.learning_rate)
        if self.calibration_ in ("sigmoid", "none"):
            info["platt"] = list(self.platt_)
        return info


def build_pipeline(algorithm: str, numeric_cols, categorical_cols, *, calibration: str = "auto",
                   random_state: int = 0) -> PDModel:
    """An unfitted PD model for the given feature lists (see the module docstring)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    return PDModel(algorithm=algorithm, numeric_cols=tuple(numeric_cols), categorical_cols=tuple(categorical_cols),
                   calibration=calibration, random_state=random_state)
