"""Fixtures for the Salesforce and Slack fakes (owned by the fakes work)."""
