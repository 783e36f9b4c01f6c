"""What a model reads besides its input window: known-future and static covariates.

A model without covariates has one input, ``window`` ``(batch, input_width, n_inputs)``,
the targets first. A model with covariates has named inputs:

- ``window``: as above;
- ``future``: ``(batch, input_width + horizon, n_future)``, covariates known over the
  input window and the horizon (planned prices, weather forecasts, calendar features);
- ``static``: ``(batch, n_static)`` numeric per-series values, scaled;
- ``category_0``, ``category_1``, ...: ``(batch, 1)`` int32, per-series categories as
  indices into their vocabulary (:func:`encode_categories`), embedded inside the model by a
  :class:`~tsforecast.models.layers.CategoryEmbedding` that keeps the vocabulary, so that
  ``model.keras`` is self-contained (:func:`vocabularies` reads it back).

Families that map a window to one feature vector read them the same way
(:func:`inputs`): the future covariates of the input window join the window step by step,
and those of the horizon, flattened, join the statics and embeddings at the head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: The largest embedding of a category column.
MAX_EMBEDDING = 10


@dataclass(frozen=True)
class Covariates:
    """The covariates a model reads.

    Attributes:
        n_future: Columns known ahead.
        n_static: Numeric static columns.
        categories: Per categorical static column, its vocabulary (the training series').
        id_embedding: Width of the embedding of the last category, the series id (0: the
            last category is no id).
    """

    n_future: int = 0
    n_static: int = 0
    categories: tuple[tuple[str, ...], ...] = ()
    id_embedding: int = 0

    @property
    def any(self) -> bool:
        return bool(self.n_future or self.n_static or self.categories)

    def embedding_width(self, i: int) -> int:
        """Width of the embedding of category column ``i``."""
        if self.id_embedding and i == len(self.categories) - 1:
            return self.id_embedding
        return min(MAX_EMBEDDING, (len(self.categories[i]) + 2) // 2)


@dataclass(frozen=True)
class Tensors:
    """A model's inputs and what its layers read of them.

    Attributes:
        inputs: What ``keras.Model`` takes: the window input, or a dict of named inputs.
        window: ``(batch, input_width, n_inputs)``.
        future: ``(batch, input_width + horizon, n_future)``, or None.
        ahead: The horizon's rows of ``future``, ``(batch, horizon, n_future)``, or None.
        static: ``(batch, n_static + embeddings)``: numeric statics and category
            embeddings side by side, or None.
        encoder_input: The window with the future covariates of its steps alongside,
            ``(batch, input_width, n_inputs + n_future)``.
        head_input: The horizon's future covariates, flattened, and the statics,
            ``(batch, horizon * n_future + static width)``, or None.
    """

    inputs: Any
    window: Any
    future: Any
    ahead: Any
    static: Any
    encoder_input: Any
    head_input: Any


def raw_inputs(shape: Any) -> Any:
    """The Keras inputs of a model of ``shape``: the window input, or a dict of named
    inputs when it reads covariates (for models that hand them on to another)."""
    import keras

    window = keras.Input((shape.input_width, shape.n_inputs), name="window")
    covariates = shape.covariates
    if not covariates.any:
        return window
    named: dict[str, Any] = {"window": window}
    if covariates.n_future:
        steps = shape.input_width + shape.horizon
        named["future"] = keras.Input((steps, covariates.n_future), name="future")
    if covariates.n_static:
        named["static"] = keras.Input((covariates.n_static,), name="static")
    for i in range(len(covariates.categories)):
        named[f"category_{i}"] = keras.Input((1,), dtype="int32", name=f"category_{i}")
    return named


def inputs(shape: Any) -> Tensors:
    """The Keras inputs of a model of ``shape`` and what its layers read of them."""
    import keras

    named = raw_inputs(shape)
    if not isinstance(named, dict):
        return Tensors(named, named, None, None, None, named, None)
    covariates = shape.covariates
    window, future = named["window"], named.get("future")
    encoder_input, ahead, head_parts = window, None, []
    if future is not None:
        # (batch, width + horizon, n_future) -> the window's steps and the horizon's
        past = keras.layers.Cropping1D((0, shape.horizon), name="future_of_window")(future)
        encoder_input = keras.layers.Concatenate(name="window_and_future")([window, past])
        ahead = keras.layers.Cropping1D((shape.input_width, 0), name="future_ahead")(future)
        head_parts.append(keras.layers.Flatten(name="future_ahead_flat")(ahead))
    from tsforecast.models.layers import CategoryEmbedding

    static_parts = [named["static"]] if "static" in named else []
    for i, vocabulary in enumerate(covariates.categories):
        name = f"category_{i}"
        # (batch, 1) indices (0: unknown) -> (batch, 1, width) -> (batch, width)
        embedded = CategoryEmbedding(
            list(vocabulary), covariates.embedding_width(i), name=f"{name}_embedding"
        )(named[name])
        static_parts.append(keras.layers.Flatten(name=f"{name}_flat")(embedded))
    static = None
    if static_parts:
        static = static_parts[0]
        if len(static_parts) > 1:
            static = keras.layers.Concatenate(name="statics")(static_parts)
        head_parts.append(static)
    head_input = None
    if head_parts:
        head_input = head_parts[0]
        if len(head_parts) > 1:
            head_input = keras.layers.Concatenate(name="covariates_at_head")(head_parts)
    return Tensors(named, window, future, ahead, static, encoder_input, head_input)


def joined(features: Any, head_input: Any, name: str = "features_and_covariates") -> Any:
    """Features ``(batch, units)`` with the covariates of the head alongside, if any."""
    import keras

    if head_input is None:
        return features
    return keras.layers.Concatenate(name=name)([features, head_input])


def encode_categories(
    categories: np.ndarray, vocabularies: tuple[tuple[str, ...], ...]
) -> np.ndarray:
    """``(n_series, n_categories)`` names -> int32 indices into each column's vocabulary,
    counted from 1; 0 for a name the vocabulary does not hold."""
    out = np.zeros(np.shape(categories), dtype=np.int32)
    for i, vocabulary in enumerate(vocabularies):
        lookup = {name: k + 1 for k, name in enumerate(vocabulary)}
        out[:, i] = [lookup.get(str(name), 0) for name in categories[:, i]]
    return out


def vocabularies(model: Any) -> tuple[tuple[str, ...], ...]:
    """The vocabulary of each category input of a built model, in input order."""
    from tsforecast.models.layers import CategoryEmbedding

    found = {
        layer.name: tuple(layer.vocabulary)
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, CategoryEmbedding)
    }
    return tuple(found[f"category_{i}_embedding"] for i in range(len(found)))
