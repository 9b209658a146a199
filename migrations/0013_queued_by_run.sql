-- A leaf's end may take the next queued TI of its own run into the slot it frees (the swap of
-- engine/store/tasks/finishLeaf.ts). Its pick reads this index: the run's queued TIs in claim
-- order, so it costs a few index entries whatever the run's size (a 10,000-task fan-out would
-- otherwise read every TI of the run, finished ones included, on each of its leaves' ends).
-- Forward-only.
CREATE INDEX task_instances_queued_by_run ON task_instances (run_pk, priority_weight DESC, queued_when, id) WHERE state = 'queued';
