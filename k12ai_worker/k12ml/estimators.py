"""The estimators k12ml offers, and the parameters a user may set on each.

Every estimator is a scikit-learn classifier. ``model.params`` is passed
through to its constructor, but only the names listed here are accepted, so a
typo fails before training instead of raising deep inside scikit-learn, and
parameters that belong to the platform stay ours:

- ``random_state`` comes from the config's ``seed`` (one seed for the split
  and the model, so a run is reproducible from its config alone);
- ``warm_start`` is how k12ml grows ensembles stage by stage (see
  ``Estimator.grows``), and ``n_jobs``/``verbose`` are the runner's business.

Types are checked here, cheaply and without importing scikit-learn, because
the server validates every request; ranges and string choices are left to
scikit-learn at fit time (``train.py`` maps its ``InvalidParameterError`` back
to ``model.params.<name>``), so they can never drift from what the installed
version accepts. Size knobs (``n_estimators``, ``max_depth``, ...) also have an
upper limit per job (``k12ai_worker/limits.py``), checked here.

=================== ========================================== ================
``model.type``      scikit-learn class                          live metrics
=================== ========================================== ================
logistic_regression ``sklearn.linear_model.LogisticRegression`` at the end
svc                 ``sklearn.svm.SVC``                         at the end
random_forest       ``sklearn.ensemble.RandomForestClassifier`` per stage
gradient_boosting   ``sklearn.ensemble.GradientBoostingClassifier`` per stage
knn                 ``sklearn.neighbors.KNeighborsClassifier``  at the end
decision_tree       ``sklearn.tree.DecisionTreeClassifier``     at the end
=================== ========================================== ================

``svc`` has no ``predict_proba`` (scikit-learn deprecated ``probability``), so
it reports no ``loss`` and its class probabilities are the softmax of its
decision function (see ``scoring.py``).
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from k12ai_contract.errors import ConfigError
from k12ai_worker import limits
from k12ai_worker.k12ml.values import as_float, as_int, describe, is_number
from k12ai_worker.limits import Limit

ParamValue = int | float | str | bool | None


class Kind(enum.Enum):
    INT = "an integer"
    FLOAT = "a number"
    # scikit-learn reads an int as a count and a float as a fraction of the
    # samples or features; JSON (and the Struct it travels in) cannot tell 2
    # from 2.0, so an integral value above 1 is a count, anything else a
    # fraction, and 1 itself is whatever ``Param.one_is_count`` says.
    COUNT_OR_FRACTION = "a count or a fraction"
    STR = "a string"
    BOOL = "true or false"
    NULL = "null"


@dataclass(frozen=True)
class Param:
    kinds: tuple[Kind, ...]
    doc: str
    one_is_count: bool = False
    # The per-job limit of a size knob (k12ai_worker/limits.py).
    limit: Limit | None = None

    def coerce(self, key: str, value: object) -> ParamValue:
        coerced = self._coerce(key, value)
        if self.limit is not None:
            self.limit.check(key, coerced)
        return coerced

    def _coerce(self, key: str, value: object) -> ParamValue:
        for kind in self.kinds:
            if kind is Kind.NULL and value is None:
                return None
            if kind is Kind.BOOL and isinstance(value, bool):
                return value
            if kind is Kind.STR and isinstance(value, str):
                return value
            if kind is Kind.INT and is_number(value) and float(value).is_integer():  # type: ignore[arg-type]
                return as_int(key, value)
            if kind is Kind.FLOAT and is_number(value):
                return as_float(key, value)
            if kind is Kind.COUNT_OR_FRACTION and is_number(value):
                number = as_float(key, value)
                if number.is_integer() and (number > 1 or (number == 1 and self.one_is_count)):
                    return int(number)
                return number
        expected = " or ".join(kind.value for kind in self.kinds)
        raise ConfigError(key, f"expected {expected}, got {describe(value)}")


@dataclass(frozen=True)
class Estimator:
    class_path: str
    summary: str
    params: Mapping[str, Param]
    # Grown in stages through ``warm_start`` and ``n_estimators``, with a
    # metrics event after each, so a live chart has a curve to draw.
    grows: bool = False

    def new(self, params: Mapping[str, ParamValue], seed: int) -> Any:
        """An unfitted instance; imports scikit-learn, so only call it in a job."""
        module_name, _, class_name = self.class_path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        # Deterministic estimators (knn) have no random_state to seed.
        seeded = {"random_state": seed} if "random_state" in cls().get_params() else {}
        return cls(**params, **seeded)


_CLASS_WEIGHT = Param((Kind.STR, Kind.NULL), '"balanced" weighs classes inversely to their frequency')
_MAX_DEPTH = Param(
    (Kind.INT, Kind.NULL), "deepest tree level; null grows until leaves are pure", limit=limits.TREE_DEPTH
)
_MIN_SAMPLES_SPLIT = Param((Kind.COUNT_OR_FRACTION,), "samples (or fraction) needed to split a node")
_MIN_SAMPLES_LEAF = Param((Kind.COUNT_OR_FRACTION,), "samples (or fraction) at a leaf", one_is_count=True)
_MAX_FEATURES = Param(
    (Kind.COUNT_OR_FRACTION, Kind.STR, Kind.NULL), 'features per split: a count, a fraction, "sqrt", "log2"'
)
_MAX_LEAF_NODES = Param((Kind.INT, Kind.NULL), "most leaves per tree", limit=limits.LEAF_NODES)
_CCP_ALPHA = Param((Kind.FLOAT,), "cost-complexity pruning strength")
_TREE_CRITERION = Param((Kind.STR,), '"gini", "entropy" or "log_loss"')

ESTIMATORS: Mapping[str, Estimator] = {
    "logistic_regression": Estimator(
        "sklearn.linear_model.LogisticRegression",
        "a linear model with a softmax over classes",
        {
            "C": Param((Kind.FLOAT,), "inverse regularisation strength"),
            "l1_ratio": Param((Kind.FLOAT,), "0 is an L2 penalty, 1 is L1 (saga), between is elastic net"),
            "solver": Param((Kind.STR,), '"lbfgs", "newton-cg", "newton-cholesky", "sag", "saga", ...'),
            "max_iter": Param((Kind.INT,), "iterations of the solver", limit=limits.SOLVER_ITERATIONS),
            "tol": Param((Kind.FLOAT,), "stopping tolerance"),
            "fit_intercept": Param((Kind.BOOL,), "learn a bias term"),
            "class_weight": _CLASS_WEIGHT,
        },
    ),
    "svc": Estimator(
        "sklearn.svm.SVC",
        "a kernel support vector classifier (one-vs-rest decision function)",
        {
            "C": Param((Kind.FLOAT,), "inverse regularisation strength"),
            "kernel": Param((Kind.STR,), '"rbf", "linear", "poly" or "sigmoid"'),
            "degree": Param((Kind.INT,), 'degree of the "poly" kernel', limit=limits.POLY_DEGREE),
            "gamma": Param((Kind.STR, Kind.FLOAT), 'kernel coefficient: "scale", "auto" or a number'),
            "coef0": Param((Kind.FLOAT,), 'independent term of "poly" and "sigmoid"'),
            "shrinking": Param((Kind.BOOL,), "use the shrinking heuristic"),
            "tol": Param((Kind.FLOAT,), "stopping tolerance"),
            "max_iter": Param(
                (Kind.INT,), "solver iterations; -1 is until it converges", limit=limits.SOLVER_ITERATIONS
            ),
            "class_weight": _CLASS_WEIGHT,
        },
    ),
    "random_forest": Estimator(
        "sklearn.ensemble.RandomForestClassifier",
        "bagged decision trees",
        {
            "n_estimators": Param((Kind.INT,), "number of trees", limit=limits.ESTIMATORS),
            "criterion": _TREE_CRITERION,
            "max_depth": _MAX_DEPTH,
            "min_samples_split": _MIN_SAMPLES_SPLIT,
            "min_samples_leaf": _MIN_SAMPLES_LEAF,
            "max_features": _MAX_FEATURES,
            "max_leaf_nodes": _MAX_LEAF_NODES,
            "bootstrap": Param((Kind.BOOL,), "draw a bootstrap sample per tree"),
            "max_samples": Param((Kind.COUNT_OR_FRACTION, Kind.NULL), "samples (or fraction) per tree"),
            "class_weight": _CLASS_WEIGHT,
            "ccp_alpha": _CCP_ALPHA,
        },
        grows=True,
    ),
    "gradient_boosting": Estimator(
        "sklearn.ensemble.GradientBoostingClassifier",
        "boosted regression trees on the log loss",
        {
            "n_estimators": Param((Kind.INT,), "boosting stages", limit=limits.ESTIMATORS),
            "learning_rate": Param((Kind.FLOAT,), "shrinkage of each stage"),
            "subsample": Param((Kind.FLOAT,), "fraction of samples per stage (<1 is stochastic boosting)"),
            "max_depth": _MAX_DEPTH,
            "min_samples_split": _MIN_SAMPLES_SPLIT,
            "min_samples_leaf": _MIN_SAMPLES_LEAF,
            "max_features": _MAX_FEATURES,
            "max_leaf_nodes": _MAX_LEAF_NODES,
            "n_iter_no_change": Param(
                (Kind.INT, Kind.NULL),
                "stop early after this many stages without gain",
                limit=limits.ESTIMATORS,
            ),
            "validation_fraction": Param((Kind.FLOAT,), "held out for n_iter_no_change"),
            "tol": Param((Kind.FLOAT,), "improvement that counts for n_iter_no_change"),
            "loss": Param((Kind.STR,), '"log_loss" or "exponential" (binary only)'),
            "ccp_alpha": _CCP_ALPHA,
        },
        grows=True,
    ),
    "knn": Estimator(
        "sklearn.neighbors.KNeighborsClassifier",
        "k-nearest neighbours vote",
        {
            "n_neighbors": Param((Kind.INT,), "neighbours that vote", limit=limits.NEIGHBOURS),
            "weights": Param((Kind.STR,), '"uniform" or "distance"'),
            "algorithm": Param((Kind.STR,), '"auto", "ball_tree", "kd_tree" or "brute"'),
            "leaf_size": Param((Kind.INT,), "leaf size of the tree algorithms", limit=limits.NEIGHBOURS),
            "p": Param((Kind.FLOAT,), "power of the Minkowski metric (2 is Euclidean)"),
            "metric": Param((Kind.STR,), 'distance metric, e.g. "minkowski", "cosine", "manhattan"'),
        },
    ),
    "decision_tree": Estimator(
        "sklearn.tree.DecisionTreeClassifier",
        "a single decision tree",
        {
            "criterion": _TREE_CRITERION,
            "splitter": Param((Kind.STR,), '"best" or "random"'),
            "max_depth": _MAX_DEPTH,
            "min_samples_split": _MIN_SAMPLES_SPLIT,
            "min_samples_leaf": _MIN_SAMPLES_LEAF,
            "max_features": _MAX_FEATURES,
            "max_leaf_nodes": _MAX_LEAF_NODES,
            "class_weight": _CLASS_WEIGHT,
            "ccp_alpha": _CCP_ALPHA,
        },
    ),
}


def lookup(key: str, name: str) -> Estimator:
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise ConfigError(
            key, f"unknown estimator {name!r}; choose one of {', '.join(sorted(ESTIMATORS))}"
        ) from None


def coerce_params(prefix: str, estimator: Estimator, raw: Mapping[str, object]) -> dict[str, ParamValue]:
    """``raw`` checked against ``estimator.params``; errors name ``<prefix>.<param>``."""
    params: dict[str, ParamValue] = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}"
        spec = estimator.params.get(name)
        if spec is None:
            raise ConfigError(
                key,
                f"unknown parameter; {estimator.class_path} accepts {', '.join(sorted(estimator.params))}",
            )
        params[name] = spec.coerce(key, value)
    return params
