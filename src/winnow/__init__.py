"""winnow: find and fix what is wrong with an image-classification data set, class by class."""

__version__ = "0.1.0"
