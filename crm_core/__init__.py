"""The CRM domain: models, identity resolution, timeline, database. Imports no other package."""
