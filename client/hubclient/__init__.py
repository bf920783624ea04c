"""Client for the Modular CNN Hub REST API."""
from hubclient.client import HubClient, HubError, JobFailed

__all__ = ["HubClient", "HubError", "JobFailed"]
__version__ = "0.1.0"
