"""Model families, looked up by name through :mod:`tsforecast.models.registry`."""
