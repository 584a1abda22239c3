using System.Globalization;
using System.Text.Json;
using Callern.Platform.Infrastructure;
using Npgsql;

namespace Callern.Platform.Webhooks;

/// <summary>Where a reader of the event log is: after the event written at <paramref name="Position"/> by transaction <paramref name="Xid"/>.</summary>
public readonly record struct LogPosition(ulong Xid, long Position)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Xid}.{Position}");

    public static bool TryParse(string? text, out LogPosition position)
    {
        position = default;
        var dot = text?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (dot <= 0 || !ulong.TryParse(text.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var xid)
            || !long.TryParse(text.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var at))
        {
            return false;
        }
        position = new(xid, at);
        return true;
    }
}

/// <summary>
/// The school's event log: every event in commit-safe order (0013_webhooks.sql), for catching up by
/// polling or before a replay; kept for <see cref="WebhookOptions.RetentionDays"/> and then deleted by
/// <see cref="EventRetention"/>.
/// </summary>
public sealed class EventLog(NpgsqlDataSource db)
{
    public async Task<IReadOnlyList<(PlatformEvent Event, LogPosition At)>> ListAsync(Guid tenantId, LogPosition? after, string? type, string? subject, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryRowsAsync<ListedRow>(
            """
            SELECT id, type, created_at, tenant_id, subject, sequence, data::text AS data, xid::text::numeric AS xid, position FROM events
            WHERE tenant_id = @tenantId AND (xid, position) > (@xid::text::xid8, @position)
              AND xid < pg_snapshot_xmin(pg_current_snapshot())
              AND (@type::text IS NULL OR type = @type) AND (@subject::text IS NULL OR subject = @subject)
            ORDER BY xid, position LIMIT @limit
            """,
            new { tenantId, xid = (after?.Xid ?? 0).ToString(CultureInfo.InvariantCulture), position = after?.Position ?? 0, type, subject, limit }))
            .Select(r => (new Row(r.Id, r.Type, r.CreatedAt, r.TenantId, r.Subject, r.Sequence, r.Data).ToEvent(), new LogPosition((ulong)r.Xid, r.Position)))
            .ToList();
    }

    internal sealed record Row(Guid Id, string Type, DateTime CreatedAt, Guid TenantId, string Subject, long Sequence, string Data)
    {
        public PlatformEvent ToEvent()
        {
            using var data = JsonDocument.Parse(Data);
            return new(Id, Type, CreatedAt.AsUtc(), TenantId, Subject, Sequence, data.RootElement.Clone());
        }
    }

    private sealed record ListedRow(Guid Id, string Type, DateTime CreatedAt, Guid TenantId, string Subject, long Sequence, string Data, decimal Xid, long Position);
}
