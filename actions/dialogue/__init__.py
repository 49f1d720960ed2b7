"""Rasa action classes: thin wrappers that read slots, call a capability and utter."""
