"""The agent desk: a small web app where human agents take over conversations."""
