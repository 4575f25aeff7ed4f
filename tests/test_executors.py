"""The local pool's own promises, on real worker processes: what a cancelled task leaves behind."""

from __future__ import annotations

import time

import pytest

from digitize.executors import LocalExecutor, Lost


def test_closing_the_pool_does_not_wait_for_a_task_given_up_while_it_runs():
    pool = LocalExecutor(1)
    try:
        task = pool.submit(time.sleep, 120)  # a page that hangs
        deadline = time.monotonic() + 60
        while not (task.future is not None and task.future.running()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert task.future is not None and task.future.running()
        pool.cancel(task)  # the coordinator gave it up (timed out)
        assert pool.outcome(task) == Lost("cancelled")
        workers = list(pool.pool._processes.values())
    finally:
        started = time.monotonic()
        pool.close()
    assert time.monotonic() - started < 30
    for worker in workers:
        worker.join(10)
        assert not worker.is_alive()


def test_closing_the_pool_waits_for_tasks_that_were_not_given_up():
    pool = LocalExecutor(1)
    task = pool.submit(time.sleep, 1)
    pool.close()
    assert task.future is not None and task.future.done() and task.future.exception() is None


def test_a_scheduler_lost_while_a_finished_result_is_fetched_interrupts_the_run(monkeypatch):
    import distributed

    from digitize.errors import Interrupted
    from digitize.executors import DaskExecutor

    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    executor = DaskExecutor(cluster.scheduler_address, 1)
    try:
        task = executor.submit(sum, [1, 2])
        assert executor.wait_some([task], timeout=60) == [task] and task.status == "finished"
        fetch = executor.client.gather

        def fetch_while_the_cluster_goes(*args, **kwargs):  # the moment cannot be timed from outside
            cluster.close()  # the scheduler and its worker go away
            return fetch(*args, **kwargs)

        monkeypatch.setattr(executor.client, "gather", fetch_while_the_cluster_goes)
        with pytest.raises(Interrupted, match="Dask scheduler"):
            executor.outcome(task)
    finally:
        executor.close(interrupted=True)
        cluster.close()
