"""synthface: synthetic faces that are honest about what they are."""

__version__ = "0.1.0"
