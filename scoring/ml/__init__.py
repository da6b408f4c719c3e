"""PD models in pure pandas / numpy / scikit-learn: labels, pipelines, metrics, explanations, training.

Nothing in this package imports Django: functions take frames and arrays and return frames, arrays,
dicts or fitted estimators. ``scoring.training`` builds the frames from the database and persists the
results.
"""
