"""Risk control: rules over customer messages and transfers, and the alerts they raise.

`detector` finds risky requests in text (spaCy rules from `rules.yml`), `transfers`
checks a transfer's amount against the customer's history. Both are pure; the dialogue
actions record alerts in the profile DB and restrict the operation.
"""
