"""Session-wide test setup. Fixture modules live in ``tests/support``."""

pytest_plugins = [
    "tests.support.fakes",
    "tests.support.databases",
    "tests.support.temporal",
]
