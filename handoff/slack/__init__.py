"""The Slack agent inbox: one thread per handed-off conversation, replies go to the customer."""

from handoff.slack.app import mount_slack, slack_configured
from handoff.slack.bridge import SlackBridge
from handoff.slack.inbox import run_inbox

__all__ = ["SlackBridge", "mount_slack", "run_inbox", "slack_configured"]
