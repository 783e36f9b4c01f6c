"""The series, from a file to the tf.data pipeline: ``loading.py`` (reading and validating
a table), ``synthetic.py`` (generated series), ``splits.py`` (train / val / test),
``scaling.py`` (scalers fitted on train rows), ``windows.py`` (the window rule),
``prepared.py`` (all of that for one config) and ``pipeline.py`` (tf.data datasets)."""
