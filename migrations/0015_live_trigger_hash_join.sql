-- The live-event triggers (0005) join a statement's old and new rows (transition tables) by id.
-- Transition tables carry no statistics, so the planner takes each for one row and joins them in
-- a nested loop: quadratic in the rows the statement changed. A hand-off that queued the 2,998
-- leaves of a fan-out spent 1.0 s in that join (auto_explain); 10,000 leaves would take ~11 s,
-- with the root's TI and run rows locked. Without nested loops the join is a hash join: linear.
-- Forward-only.
ALTER FUNCTION updraft_live_ti_changed() SET enable_nestloop = off;
ALTER FUNCTION updraft_live_run_updated() SET enable_nestloop = off;
