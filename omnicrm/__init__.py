"""omnicrm: the composition root that wires channels, conversations, CRM core, NLU and handoff."""

__version__ = "0.1.0"
