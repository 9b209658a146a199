-- The swap (engine/store/tasks/finishLeaf.ts) no longer looks for a queued TI of the finished TI's
-- own run: it takes the first unlocked TI in claim order when it is of the same DAG, found through
-- task_instances_queued like a claim. The index 0013 added for the run's pick is read by nothing
-- now, and every TI queued or taken would keep paying for it. Forward-only.
DROP INDEX task_instances_queued_by_run;
