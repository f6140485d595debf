"""selector: GRU or LSTM? Measure both on your sequence data and get a justified recommendation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("selector")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
