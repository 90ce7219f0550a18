"""The Slack app: buttons, forms, threads and commands from verified Slack requests."""
