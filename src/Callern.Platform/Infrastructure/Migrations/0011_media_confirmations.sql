-- Billing follows confirmed two-way media, not hub connections (docs/calls.md, "Metering").
-- Per participant: <party>_flowing_since is when their current run of media confirmations began
-- (null while their media is not confirmed), <party>_confirmed_at the latest confirmation the
-- database knows. The node that receives a participant's confirmations keeps them in memory and
-- writes them here at most once per heartbeat, and at once when a run starts or lapses, so after
-- a crash nothing past what the database knows is ever billed. paused_at is the last moment both
-- were confirmed before billing paused; the reconnect grace counts from it.
ALTER TABLE calls
    ADD COLUMN student_flowing_since timestamptz,
    ADD COLUMN student_confirmed_at  timestamptz,
    ADD COLUMN teacher_flowing_since timestamptz,
    ADD COLUMN teacher_confirmed_at  timestamptz,
    ADD COLUMN paused_at             timestamptz,
    DROP COLUMN student_media_at,
    DROP COLUMN teacher_media_at,
    DROP COLUMN participants_seen_at;
