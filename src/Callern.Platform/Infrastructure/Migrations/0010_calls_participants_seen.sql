-- The latest moment the call's tick saw both participants' connections alive. If a dead node's
-- connection rows were swept before the call's tick ran, billing stops here, never later.
ALTER TABLE calls ADD COLUMN participants_seen_at timestamptz;
