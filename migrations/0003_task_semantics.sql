-- Task semantics (issue 4). Forward-only.

-- The reaper's "cleared while running, and its worker never let go": restarting TIs by heartbeat
-- age (reapLostTasks). Partial, so it stays as small as the handful of TIs being restarted.
CREATE INDEX task_instances_restarting ON task_instances (heartbeat_at) WHERE state = 'restarting';
