"""Admin CLI (`annotate`) and Python client of the cloud annotation service."""
from .client import ApiError, Client, Http

__all__ = ["ApiError", "Client", "Http"]
