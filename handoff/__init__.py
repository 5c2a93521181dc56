"""Agent handoff: queue, assignment, the Slack inbox bridge, the web console and transcripts."""
