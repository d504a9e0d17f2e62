"""Performance benchmarks for airflow-provider-devin (issue 7).

Run them all with ``python -m benchmarks`` (``--smoke`` for the short CI mode); see
``docs/performance.md`` for what each figure means and the last measured values.

Nothing here is imported by the provider, and nothing here is a timed test: the smoke test only
checks that every benchmark still produces its figures.
"""
