"""Language-model fallback: client, prompt and guardrails."""
