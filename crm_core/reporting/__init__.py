"""Reports taken out of the CRM: exports and the numbers supervisors read."""
