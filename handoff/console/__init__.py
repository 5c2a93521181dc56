"""The web console for agents and supervisors: login, the conversation list, transcripts."""
