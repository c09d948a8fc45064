"""Run logging in the rllab/viskit format (progress.csv, params.json, debug.log).

Use as in the original rlpyt::

    from rlpyt.utils.logging.context import logger_context
    from rlpyt.utils.logging import logger

    with logger_context(log_dir, run_ID, name, log_params=config):
        logger.log("training...")
        logger.record_tabular("Iteration", itr)
        logger.dump_tabular()

or hold a :class:`~rlpyt.utils.logging.logger.Logger` object directly.
"""
