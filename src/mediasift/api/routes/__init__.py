"""The routes of the HTTP API, one module per family; each builds an APIRouter over one system."""
