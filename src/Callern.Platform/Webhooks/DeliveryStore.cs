using Callern.Platform.Infrastructure;
using Dapper;
using Npgsql;

namespace Callern.Platform.Webhooks;

/// <summary>A delivery claimed for one attempt: the event, where it goes and the protected secrets to sign it with.</summary>
public sealed record ClaimedDelivery(
    Guid EndpointId, Guid EventId, int Attempts, DateTime CreatedAt, string Url, string ProtectedSecret, string? ProtectedPrevious,
    DateTime? PreviousSecretUntil, string Type, DateTime EventCreatedAt, Guid TenantId, string Subject, long Sequence, string Data);

/// <summary>The deliveries' rows: claiming due ones in each subject's order, and recording each attempt.</summary>
public static class DeliveryStore
{
    /// <summary>
    /// Leases up to <paramref name="limit"/> due deliveries of enabled endpoints, each the earliest
    /// still pending of its subject for its endpoint (a later event waits for the earlier one), and
    /// counts the attempt. Claims on several nodes skip each other's rows.
    /// </summary>
    public static Task<List<ClaimedDelivery>> ClaimAsync(NpgsqlConnection connection, DateTimeOffset now, TimeSpan lease, int limit) =>
        connection.QueryRowsAsync<ClaimedDelivery>(
            """
            WITH due AS (
                SELECT d.endpoint_id, d.event_id FROM webhook_deliveries d
                JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.disabled_at IS NULL
                WHERE d.state = 'pending' AND d.due_at <= @now AND (d.leased_until IS NULL OR d.leased_until <= @now)
                  AND NOT EXISTS (
                      SELECT 1 FROM webhook_deliveries e
                      WHERE e.endpoint_id = d.endpoint_id AND e.subject = d.subject AND e.state = 'pending' AND e.sequence < d.sequence)
                ORDER BY d.due_at LIMIT @limit
                FOR UPDATE OF d SKIP LOCKED)
            UPDATE webhook_deliveries d SET leased_until = @leasedUntil, attempts = d.attempts + 1
            FROM due, events ev, webhook_endpoints ep
            WHERE d.endpoint_id = due.endpoint_id AND d.event_id = due.event_id AND ev.id = d.event_id AND ep.id = d.endpoint_id
            RETURNING d.endpoint_id, d.event_id, d.attempts, d.created_at, ep.url, ep.protected_secret, ep.protected_previous,
                      ep.previous_secret_until, ev.type, ev.created_at AS event_created_at, ev.tenant_id, ev.subject, ev.sequence,
                      ev.data::text AS data
            """,
            new { now, leasedUntil = now + lease, limit });

    /// <summary>Records the attempt; the delivery is done, due again at <paramref name="retryAt"/>, or failed for good when that is null.</summary>
    public static Task RecordAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedDelivery delivery, DeliveryOutcome outcome, DateTimeOffset now, DateTimeOffset? retryAt) =>
        connection.ExecuteAsync(
            """
            WITH updated AS (
                UPDATE webhook_deliveries SET leased_until = NULL,
                    state = CASE WHEN @delivered THEN 'delivered' WHEN @retryAt::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                    delivered_at = CASE WHEN @delivered THEN @now END,
                    due_at = coalesce(@retryAt, due_at)
                WHERE endpoint_id = @EndpointId AND event_id = @EventId)
            INSERT INTO webhook_attempts (id, endpoint_id, event_id, tenant_id, attempted_at, status_code, error, duration_ms, response_snippet)
            VALUES (@id, @EndpointId, @EventId, @TenantId, @now, @StatusCode, @Error, @DurationMs, @ResponseSnippet)
            """,
            new
            {
                id = Guid.CreateVersion7(now), delivery.EndpointId, delivery.EventId, delivery.TenantId, now, retryAt, delivered = outcome.Delivered,
                outcome.StatusCode, outcome.Error, outcome.DurationMs, outcome.ResponseSnippet,
            },
            transaction);

    /// <summary>Disables an endpoint whose delivery failed for the whole retry window; true if this call disabled it.</summary>
    public static async Task<bool> DisableFailingAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid endpointId, string reason, DateTimeOffset now) =>
        await connection.ExecuteAsync(
            "UPDATE webhook_endpoints SET disabled_at = @now, disabled_reason = @reason, updated_at = @now WHERE id = @endpointId AND disabled_at IS NULL",
            new { endpointId, reason, now }, transaction) > 0;

    /// <summary>The endpoint's attempts, newest first, before the attempt <paramref name="before"/>.</summary>
    public static async Task<List<WebhookAttempt>> ListAttemptsAsync(NpgsqlConnection connection, Guid tenantId, Guid endpointId, Guid? before, int limit) =>
        (await connection.QueryRowsAsync<AttemptRow>(
            """
            SELECT id, event_id, attempted_at, status_code, error, duration_ms, response_snippet FROM webhook_attempts
            WHERE tenant_id = @tenantId AND endpoint_id = @endpointId AND (@before::uuid IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """,
            new { tenantId, endpointId, before, limit })).Select(r => r.ToAttempt()).ToList();

    /// <summary>
    /// Queues the endpoint's kept events created from <paramref name="from"/> to <paramref name="to"/>
    /// (of <paramref name="types"/>, within the endpoint's filter) for delivery again, oldest first, at most
    /// <paramref name="max"/>; a delivery already queued starts over. The number queued.
    /// </summary>
    public static Task<int> ReplayAsync(
        NpgsqlConnection connection, Guid tenantId, Guid endpointId, DateTimeOffset? from, DateTimeOffset? to, IReadOnlyList<string>? types, int max, DateTimeOffset now) =>
        connection.ExecuteAsync(
            """
            WITH chosen AS (
                SELECT ev.id, ev.subject, ev.sequence FROM events ev JOIN webhook_endpoints ep ON ep.id = @endpointId
                WHERE ev.tenant_id = @tenantId AND (@from::timestamptz IS NULL OR ev.created_at >= @from) AND (@to::timestamptz IS NULL OR ev.created_at <= @to)
                  AND (@types::text[] IS NULL OR ev.type = ANY (@types)) AND (ep.event_types IS NULL OR ev.type = ANY (ep.event_types))
                ORDER BY ev.xid, ev.position LIMIT @max)
            INSERT INTO webhook_deliveries (endpoint_id, event_id, tenant_id, subject, sequence, state, due_at, created_at)
            SELECT @endpointId, id, @tenantId, subject, sequence, 'pending', @now, @now FROM chosen
            ON CONFLICT (endpoint_id, event_id) DO UPDATE
                SET state = 'pending', attempts = 0, due_at = @now, leased_until = NULL, created_at = @now, delivered_at = NULL
            """,
            new { tenantId, endpointId, from, to, types = types?.ToArray(), max, now });

    private sealed record AttemptRow(Guid Id, Guid EventId, DateTime AttemptedAt, int? StatusCode, string? Error, int DurationMs, string? ResponseSnippet)
    {
        public WebhookAttempt ToAttempt() => new(Id, EventId, AttemptedAt.AsUtc(), StatusCode, Error, DurationMs, ResponseSnippet);
    }
}
