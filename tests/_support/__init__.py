"""Helpers shared by the tests, imported as ``_support.<name>`` (tests/ is on sys.path via its conftest).

- ``lifecycle``: small churn models and projects (evaluate, compare, register, monitor tests)
- ``docs``: the Python blocks of a docs page, for tests that run the docs' examples
- ``serve``: churn model folders for the serving tests and benchmarks
- ``modeltests``: fast sizes and a pipeline builder for the model-check tests
"""
