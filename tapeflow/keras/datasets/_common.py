"""Pieces shared by the downloaded loaders: the public origin folder, the word-sequence
post-processing of IMDB and Reuters, and the channel order of image data sets."""

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def channels_last():
    try:
        from tapeflow.keras import backend  # noqa: PLC0415

        return backend.image_data_format() == "channels_last"
    except (ImportError, AttributeError):
        return True


def check_no_kwargs(kwargs, fn):
    if kwargs:
        raise TypeError(f"{fn}() got unrecognized keyword arguments: {sorted(kwargs)}")


def shift(xs, start_char, index_from):
    """Prepends ``start_char`` and adds ``index_from`` to each word index (Keras's order)."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [list(x) for x in xs]


def remove_long(maxlen, xs, labels):
    """Keeps the sequences strictly shorter than ``maxlen`` (Keras's ``remove_long_seq``)."""
    kept = [(x, y) for x, y in zip(xs, labels, strict=True) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_vocabulary(xs, num_words, skip_top, oov_char):
    """Replaces (or drops, when ``oov_char`` is None) the words outside ``[skip_top, num_words)``;
    ``num_words`` defaults to the largest index present, as in Keras."""
    if not num_words:
        num_words = max(max(x) for x in xs if x)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]
