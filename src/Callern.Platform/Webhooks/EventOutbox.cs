using System.Text.Json;
using Callern.Platform.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Webhooks;

/// <summary>
/// Writes events in the caller's transaction (a transactional outbox): the event commits with the
/// change it reports, or not at all. One statement per event numbers it in its subject, stores it,
/// and queues a delivery to each enabled endpoint of the tenant that listens for its type; the
/// deliveries' trigger wakes the dispatchers of every node when the transaction commits.
/// <paramref name="data"/> is written as the REST API writes its models (camelCase, enums as strings).
/// </summary>
public sealed class EventOutbox(IOptions<JsonOptions> json, TimeProvider time)
{
    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;

    public async Task AppendAsync(NpgsqlTransaction transaction, Guid tenantId, string type, string subject, object data)
    {
        if (!EventTypes.All.Contains(type))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "Not an event type of EventTypes.");
        }
        var now = time.GetUtcNow();
        await transaction.Connection!.ExecuteAsync(
            """
            WITH numbered AS (
                INSERT INTO event_subjects (tenant_id, subject, last_sequence) VALUES (@tenantId, @subject, 1)
                ON CONFLICT (tenant_id, subject) DO UPDATE SET last_sequence = event_subjects.last_sequence + 1
                RETURNING last_sequence),
            stored AS (
                INSERT INTO events (id, tenant_id, type, subject, sequence, created_at, data)
                SELECT @id, @tenantId, @type, @subject, last_sequence, @now, @data::jsonb FROM numbered
                RETURNING id, sequence)
            INSERT INTO webhook_deliveries (endpoint_id, event_id, tenant_id, subject, sequence, state, due_at, created_at)
            SELECT e.id, s.id, @tenantId, @subject, s.sequence, 'pending', @now, @now
            FROM webhook_endpoints e CROSS JOIN stored s
            WHERE e.tenant_id = @tenantId AND e.disabled_at IS NULL AND (e.event_types IS NULL OR @type = ANY (e.event_types))
            """,
            new
            {
                id = Guid.CreateVersion7(now), tenantId, type, subject, now = now.ToDatabasePrecision(),
                data = JsonSerializer.Serialize(data, _json),
            },
            transaction);
    }
}
