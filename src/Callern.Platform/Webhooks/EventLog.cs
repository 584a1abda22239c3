using System.Text.Json;
using Callern.Platform.Infrastructure;
using Dapper;
using Npgsql;

namespace Callern.Platform.Webhooks;

/// <summary>
/// The school's event log: every event, oldest first, for catching up by polling or before a
/// replay; kept for <see cref="WebhookOptions.RetentionDays"/> and then deleted by
/// <see cref="EventRetention"/>.
/// </summary>
public sealed class EventLog(NpgsqlDataSource db)
{
    public async Task<IReadOnlyList<PlatformEvent>> ListAsync(Guid tenantId, Guid? after, string? type, string? subject, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryRowsAsync<Row>(
            """
            SELECT id, type, created_at, tenant_id, subject, sequence, data::text AS data FROM events
            WHERE tenant_id = @tenantId AND (@after::uuid IS NULL OR id > @after)
              AND (@type::text IS NULL OR type = @type) AND (@subject::text IS NULL OR subject = @subject)
            ORDER BY id LIMIT @limit
            """,
            new { tenantId, after, type, subject, limit })).Select(r => r.ToEvent()).ToList();
    }

    internal sealed record Row(Guid Id, string Type, DateTime CreatedAt, Guid TenantId, string Subject, long Sequence, string Data)
    {
        public PlatformEvent ToEvent()
        {
            using var data = JsonDocument.Parse(Data);
            return new(Id, Type, CreatedAt.AsUtc(), TenantId, Subject, Sequence, data.RootElement.Clone());
        }
    }
}
