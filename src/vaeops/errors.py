"""Errors that tell the user what is wrong with their input and how to fix it."""


class DataError(ValueError):
    """Input data cannot be used as given; the message says what to change."""
