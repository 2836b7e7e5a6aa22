"""Waiting on one job: the handle a submit returns, the poll schedule and its learner, downloads.

What lives here:

- :mod:`.polling`: :class:`PollPolicy`, the poll schedule, the learner that adapts it, and the
  webhook safety net's timing;
- :mod:`.poll_env`: reading a poll interval from the environment;
- :mod:`.generation_job` and :mod:`.image_job`: the handles the video and image template
  endpoints return; :mod:`.sources`: what those handles are given to poll and watch;
- :mod:`.downloads`: fetching a finished video to a file.

May import: the foundation (errors, constants, retry, options) and the models. Nothing here
imports the session, the endpoints, the webhooks or anything above them: a handle is given the
calls it needs (see :mod:`.sources`).

Example::

    from pixverse_async.jobs.polling import PollPolicy

    policy = PollPolicy(interval=2.0)
"""
