using System.Text.Json;
using Callern.Platform.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Webhooks;

/// <summary>An event to write: its type (<see cref="EventTypes"/>), subject and data.</summary>
public sealed record EventDraft(string Type, string Subject, object Data);

/// <summary>
/// Writes events in the caller's transaction (a transactional outbox): an event commits with the
/// change it reports, or not at all. One statement numbers the events in their subjects, stores
/// them, and queues a delivery of each to every enabled endpoint of the tenant listening for its
/// type; the deliveries' trigger wakes the dispatchers of every node when the transaction commits.
/// Data is written as the REST API writes its models (camelCase, enums as strings).
/// </summary>
public sealed class EventOutbox(IOptions<JsonOptions> json, TimeProvider time)
{
    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;

    public Task AppendAsync(NpgsqlTransaction transaction, Guid tenantId, string type, string subject, object data) =>
        AppendAsync(transaction, tenantId, [new EventDraft(type, subject, data)]);

    /// <summary>Writes <paramref name="events"/>, numbered in their subjects in the order given.</summary>
    public async Task AppendAsync(NpgsqlTransaction transaction, Guid tenantId, IReadOnlyList<EventDraft> events)
    {
        if (events.Count == 0)
        {
            return;
        }
        if (events.FirstOrDefault(e => !EventTypes.All.Contains(e.Type)) is { } unknown)
        {
            throw new ArgumentOutOfRangeException(nameof(events), unknown.Type, "Not an event type of EventTypes.");
        }
        var now = time.GetUtcNow();
        // Subjects' counters are taken in subject order, so two transactions never wait for each other in a circle.
        await transaction.Connection!.ExecuteAsync(
            """
            WITH drafts AS (
                SELECT * FROM unnest(@ids, @types, @subjects, @data) WITH ORDINALITY AS d(id, type, subject, data, ord)),
            counts AS (
                SELECT subject, count(*) AS n FROM drafts GROUP BY subject ORDER BY subject),
            numbered AS (
                INSERT INTO event_subjects (tenant_id, subject, last_sequence) SELECT @tenantId, subject, n FROM counts
                ON CONFLICT (tenant_id, subject) DO UPDATE SET last_sequence = event_subjects.last_sequence + excluded.last_sequence
                RETURNING subject, last_sequence),
            stored AS (
                INSERT INTO events (id, tenant_id, type, subject, sequence, created_at, data)
                SELECT d.id, @tenantId, d.type, d.subject,
                       n.last_sequence - c.n + row_number() OVER (PARTITION BY d.subject ORDER BY d.ord), @now, d.data::jsonb
                FROM drafts d JOIN numbered n ON n.subject = d.subject JOIN counts c ON c.subject = d.subject
                ORDER BY d.ord
                RETURNING id, type, subject, sequence)
            INSERT INTO webhook_deliveries (endpoint_id, event_id, tenant_id, subject, sequence, state, due_at, created_at)
            SELECT e.id, s.id, @tenantId, s.subject, s.sequence, 'pending', @now, @now
            FROM webhook_endpoints e JOIN stored s ON e.event_types IS NULL OR s.type = ANY (e.event_types)
            WHERE e.tenant_id = @tenantId AND e.disabled_at IS NULL
            """,
            new
            {
                tenantId, now = now.ToDatabasePrecision(),
                ids = events.Select(_ => Guid.CreateVersion7(now)).ToArray(),
                types = events.Select(e => e.Type).ToArray(),
                subjects = events.Select(e => e.Subject).ToArray(),
                data = events.Select(e => JsonSerializer.Serialize(e.Data, e.Data.GetType(), _json)).ToArray(),
            },
            transaction);
    }
}
