"""The CRM domain: models, identity resolution, timeline and the database. Imports no other package."""
