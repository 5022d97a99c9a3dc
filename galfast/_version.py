"""galfast version (single source of truth, read by setup and saved in model files)."""
__version__ = "0.1.0"
