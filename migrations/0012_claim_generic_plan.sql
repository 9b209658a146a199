-- The claim function's statements are re-planned on every call under plan_cache_mode = auto
-- (PostgreSQL keeps choosing custom plans for them): measured with pgbench on an empty queue,
-- 0.889 ms per claim → 0.171 ms with the cached generic plan. Its plans do not depend on the
-- parameter values (the pick reads the queued partial indexes in priority order whatever they
-- are), so the generic plan is the one to keep. Forward-only.
ALTER FUNCTION updraft_claim_tasks(text, text, text[], integer) SET plan_cache_mode = force_generic_plan;
