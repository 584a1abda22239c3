-- The per-teacher facts ranking reads on every request and cascade step, kept up to date by
-- triggers as offers are decided, ratings given and calls ended, so matching reads one row per
-- candidate instead of aggregating a teacher's whole history each time.
CREATE TABLE teacher_stats (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    teacher_id          text COLLATE "C" NOT NULL,
    rating_count        bigint NOT NULL DEFAULT 0,
    rating_sum          bigint NOT NULL DEFAULT 0,
    offers_received     bigint NOT NULL DEFAULT 0,
    offers_accepted     bigint NOT NULL DEFAULT 0,
    last_call_ended_at  timestamptz,
    PRIMARY KEY (tenant_id, teacher_id)
);

INSERT INTO teacher_stats (tenant_id, teacher_id, rating_count, rating_sum, offers_received, offers_accepted, last_call_ended_at)
SELECT t.tenant_id, t.id,
       (SELECT count(*) FROM call_ratings r WHERE r.tenant_id = t.tenant_id AND r.teacher_id = t.id),
       (SELECT coalesce(sum(stars), 0) FROM call_ratings r WHERE r.tenant_id = t.tenant_id AND r.teacher_id = t.id),
       (SELECT count(*) FROM call_offers o WHERE o.tenant_id = t.tenant_id AND o.teacher_id = t.id AND o.outcome IS NOT NULL),
       (SELECT count(*) FROM call_offers o WHERE o.tenant_id = t.tenant_id AND o.teacher_id = t.id AND o.outcome = 'accepted'),
       (SELECT max(ended_at) FROM calls c WHERE c.tenant_id = t.tenant_id AND c.teacher_id = t.id)
FROM teachers t;

CREATE FUNCTION teacher_stats_offer_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO teacher_stats AS s (tenant_id, teacher_id, offers_received, offers_accepted)
    VALUES (NEW.tenant_id, NEW.teacher_id, 1, (NEW.outcome = 'accepted')::int)
    ON CONFLICT (tenant_id, teacher_id) DO UPDATE
        SET offers_received = s.offers_received + 1, offers_accepted = s.offers_accepted + excluded.offers_accepted;
    RETURN NULL;
END $$;
CREATE TRIGGER call_offers_decided AFTER UPDATE OF outcome ON call_offers
    FOR EACH ROW WHEN (OLD.outcome IS NULL AND NEW.outcome IS NOT NULL) EXECUTE FUNCTION teacher_stats_offer_decided();

CREATE FUNCTION teacher_stats_rated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO teacher_stats AS s (tenant_id, teacher_id, rating_count, rating_sum)
    VALUES (NEW.tenant_id, NEW.teacher_id, 1, NEW.stars)
    ON CONFLICT (tenant_id, teacher_id) DO UPDATE
        SET rating_count = s.rating_count + 1, rating_sum = s.rating_sum + excluded.rating_sum;
    RETURN NULL;
END $$;
CREATE TRIGGER call_ratings_added AFTER INSERT ON call_ratings FOR EACH ROW EXECUTE FUNCTION teacher_stats_rated();

CREATE FUNCTION teacher_stats_call_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO teacher_stats AS s (tenant_id, teacher_id, last_call_ended_at)
    VALUES (NEW.tenant_id, NEW.teacher_id, NEW.ended_at)
    ON CONFLICT (tenant_id, teacher_id) DO UPDATE
        SET last_call_ended_at = greatest(s.last_call_ended_at, excluded.last_call_ended_at);
    RETURN NULL;
END $$;
CREATE TRIGGER calls_ended AFTER UPDATE OF state ON calls
    FOR EACH ROW WHEN (NEW.state = 'ended' AND OLD.state <> 'ended' AND NEW.teacher_id IS NOT NULL)
    EXECUTE FUNCTION teacher_stats_call_ended();
