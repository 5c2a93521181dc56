"""Dialogues as explicit state machines (booking, reschedule, cancel, complaint); see runner."""
