"""Fitting models: ``fit.py`` (the one compile and fit), ``backup.py`` (crash-safe backups
that make ``--resume`` exact) and ``distribution.py`` (tf.distribute strategies)."""
