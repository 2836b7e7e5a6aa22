"""Running a batch: the runner, its coordination with other workers, the spending cap and costs.

What lives here:

- :mod:`.runner`: :class:`BatchRunner` and the run it drives (intake, admission and the cap,
  dispatch, polling, the one place that ends a job);
- :mod:`.coordination`: how workers sharing a PostgreSQL journal agree on concurrency and credits;
- :mod:`.spending`: the spending cap; :mod:`.costs`: what a job is estimated to cost;
- :mod:`.price_rules` and :mod:`.published_prices`: PixVerse's price table;
- :mod:`.limit_rule`: the adaptive concurrency target;
- :mod:`.entries`: reading a journal's entries; :mod:`.gallery`: the HTML page of a batch.

May import: the foundation, the models, the session, the endpoints, the job handles, the webhooks
and the journal. The rule modules (costs, prices, limit rule) import only the foundation: the
PostgreSQL journal applies them inside its transactions.

This package's ``__init__`` imports nothing, so the journal can use a rule module without
loading the runner. Public names are exported from :mod:`pixverse_async`.

Example::

    from pixverse_async.batch.limit_rule import grown

    assert grown(4.0, limit=10) == 4.25
"""
