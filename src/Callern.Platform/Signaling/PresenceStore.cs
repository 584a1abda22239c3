using Callern.Platform.Infrastructure;
using Callern.Platform.Webhooks;
using Dapper;
using Npgsql;

namespace Callern.Platform.Signaling;

/// <summary>
/// Hub connection rows and teacher presence in PostgreSQL, so every node sees the same state and a
/// node's death loses nothing. Each change is one statement: two nodes racing on the same teacher
/// serialise on the row, never interleave a read and a write.
/// </summary>
public sealed class PresenceStore(NpgsqlDataSource db, EventOutbox outbox)
{
    private const string SelectPresence =
        """
        SELECT p.teacher_id, p.status, p.changed_at, c.last_seen_at
        FROM teacher_presence p
        LEFT JOIN LATERAL (
            SELECT max(h.last_seen_at) AS last_seen_at FROM hub_connections h
            WHERE h.tenant_id = p.tenant_id AND h.user_id = p.teacher_id) c ON true
        """;

    /// <summary>For a caller's own statement, as a subquery: the available teachers of tenant <c>@tenantId</c> (tenant_id, teacher_id, changed_at).</summary>
    public const string AvailableTeachersSql = "SELECT tenant_id, teacher_id, changed_at FROM teacher_presence WHERE tenant_id = @tenantId AND status = 'available'";

    /// <summary>For a caller's own statement: a condition, true when teacher <paramref name="teacherId"/> of tenant <paramref name="tenantId"/> (SQL expressions) is available.</summary>
    public static string TeacherAvailableSql(string tenantId, string teacherId) =>
        $"EXISTS (SELECT 1 FROM teacher_presence p WHERE p.tenant_id = {tenantId} AND p.teacher_id = {teacherId} AND p.status = 'available')";

    /// <summary>Records a new connection; a teacher coming back within the grace keeps their status.</summary>
    public async Task OpenConnectionAsync(string connectionId, Guid tenantId, string userId, string role, Guid nodeId, DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            WITH opened AS (
                INSERT INTO hub_connections (id, tenant_id, user_id, role, node_id, connected_at, last_seen_at)
                VALUES (@connectionId, @tenantId, @userId, @role, @nodeId, @now, @now))
            UPDATE teacher_presence SET offline_due_at = NULL
            WHERE tenant_id = @tenantId AND teacher_id = @userId AND offline_due_at IS NOT NULL
            """,
            new { connectionId, tenantId, userId, role, nodeId, now });
    }

    /// <summary>
    /// Removes a connection; when it was the teacher's last one, their status stays until
    /// <paramref name="offlineAt"/>, the persisted end of the grace.
    /// </summary>
    public async Task CloseConnectionAsync(string connectionId, DateTimeOffset offlineAt)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            WITH gone AS (DELETE FROM hub_connections WHERE id = @connectionId RETURNING tenant_id, user_id)
            UPDATE teacher_presence p SET offline_due_at = @offlineAt
            FROM gone
            WHERE p.tenant_id = gone.tenant_id AND p.teacher_id = gone.user_id
              AND p.status <> 'offline' AND p.offline_due_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM hub_connections h
                              WHERE h.tenant_id = p.tenant_id AND h.user_id = p.teacher_id AND h.id <> @connectionId)
            """,
            new { connectionId, offlineAt });
    }

    /// <summary>The coarse heartbeat: one statement for a chunk of a node's live connections.</summary>
    public async Task TouchAsync(IReadOnlyCollection<string> connectionIds, DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "UPDATE hub_connections SET last_seen_at = @now WHERE id = ANY (@ids)",
            new { ids = connectionIds.ToArray(), now });
    }

    /// <summary>
    /// Sets a teacher's status. Without a live connection the grace starts now, so a teacher who
    /// says "available" over REST and never connects does not stay available forever.
    /// </summary>
    public async Task<TeacherPresence> SetAsync(Guid tenantId, string teacherId, PresenceStatus status, DateTimeOffset now, DateTimeOffset offlineAt)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var row = await connection.QuerySingleRowAsync<PresenceRow>(
            """
            WITH saved AS (
                INSERT INTO teacher_presence AS p (tenant_id, teacher_id, status, changed_at, offline_due_at)
                VALUES (@tenantId, @teacherId, @status, @now,
                        CASE WHEN @status <> 'offline' AND NOT EXISTS (
                            SELECT 1 FROM hub_connections WHERE tenant_id = @tenantId AND user_id = @teacherId)
                        THEN @offlineAt::timestamptz END)
                ON CONFLICT (tenant_id, teacher_id) DO UPDATE SET
                    status = excluded.status,
                    changed_at = CASE WHEN p.status = excluded.status THEN p.changed_at ELSE excluded.changed_at END,
                    offline_due_at = excluded.offline_due_at
                RETURNING p.tenant_id, p.teacher_id, p.status, p.changed_at)
            SELECT s.teacher_id, s.status, s.changed_at, c.last_seen_at
            FROM saved s
            LEFT JOIN LATERAL (
                SELECT max(h.last_seen_at) AS last_seen_at FROM hub_connections h
                WHERE h.tenant_id = s.tenant_id AND h.user_id = s.teacher_id) c ON true
            """,
            new { tenantId, teacherId, status = status.ToDatabase(), now, offlineAt }, transaction);
        var presence = row.ToPresence();
        if (presence.ChangedAt == now.ToDatabasePrecision())
        {
            await outbox.AppendAsync(transaction, tenantId, EventTypes.TeacherPresence, EventTypes.Teacher(teacherId), presence);
        }
        await transaction.CommitAsync();
        return presence;
    }

    public async Task<TeacherPresence?> FindAsync(Guid tenantId, string teacherId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<PresenceRow>(
            $"{SelectPresence} WHERE p.tenant_id = @tenantId AND p.teacher_id = @teacherId", new { tenantId, teacherId });
        return row?.ToPresence();
    }

    public async Task<IReadOnlyList<TeacherPresence>> ListAsync(Guid tenantId, PresenceStatus? status, string? after, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<PresenceRow>(
            $"""
            {SelectPresence}
            WHERE p.tenant_id = @tenantId AND (@status::text IS NULL OR p.status = @status)
              AND (@after::text IS NULL OR p.teacher_id > @after)
            ORDER BY p.teacher_id LIMIT @limit
            """,
            new { tenantId, status = status?.ToDatabase(), after, limit });
        return rows.Select(r => r.ToPresence()).ToList();
    }

    /// <summary>
    /// Deletes connection rows whose node stopped refreshing them (it died). Their teachers, left
    /// without a live connection, are due offline at once: they have been silent for longer than
    /// any grace. Idempotent, so every node may run it.
    /// </summary>
    public async Task<int> SweepStaleConnectionsAsync(DateTimeOffset staleBefore, DateTimeOffset now)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteAsync(
            """
            WITH stale AS (DELETE FROM hub_connections WHERE last_seen_at < @staleBefore RETURNING tenant_id, user_id)
            UPDATE teacher_presence p SET offline_due_at = @now
            FROM (SELECT DISTINCT tenant_id, user_id FROM stale) s
            WHERE p.tenant_id = s.tenant_id AND p.teacher_id = s.user_id
              AND p.status <> 'offline' AND p.offline_due_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM hub_connections h
                              WHERE h.tenant_id = p.tenant_id AND h.user_id = p.teacher_id AND h.last_seen_at >= @staleBefore)
            """,
            new { staleBefore, now });
    }

    /// <summary>
    /// Fires due grace deadlines: claims up to <paramref name="batch"/> of them with
    /// FOR UPDATE SKIP LOCKED (nodes sweeping at once take different rows) and turns those teachers
    /// offline, unless a connection came back meanwhile. A deadline fires once: it is cleared in
    /// the same statement.
    /// </summary>
    public async Task<IReadOnlyList<(Guid TenantId, TeacherPresence Presence)>> FireDueAsync(DateTimeOffset now, int batch)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var rows = await connection.QueryRowsAsync<DueRow>(
            """
            WITH due AS (
                SELECT tenant_id, teacher_id FROM teacher_presence
                WHERE offline_due_at <= @now
                ORDER BY offline_due_at LIMIT @batch
                FOR UPDATE SKIP LOCKED)
            UPDATE teacher_presence p SET
                status = CASE WHEN live.has_live THEN p.status ELSE 'offline' END,
                changed_at = CASE WHEN live.has_live OR p.status = 'offline' THEN p.changed_at ELSE @now END,
                offline_due_at = NULL
            FROM due, LATERAL (SELECT EXISTS (SELECT 1 FROM hub_connections h
                                              WHERE h.tenant_id = due.tenant_id AND h.user_id = due.teacher_id) AS has_live) live
            WHERE p.tenant_id = due.tenant_id AND p.teacher_id = due.teacher_id
            RETURNING p.tenant_id, p.teacher_id, p.status, p.changed_at, live.has_live AS connected
            """,
            new { now, batch }, transaction);
        // A teacher whose status was already offline changed nothing: only the others are events.
        var offline = rows.Where(r => !r.Connected)
            .Select(r => (r.TenantId, Presence: new TeacherPresence(r.TeacherId, PresenceStatus.Offline, false, r.ChangedAt.AsUtc(), null)))
            .ToList();
        foreach (var tenant in offline.Where(o => o.Presence.ChangedAt == now.ToDatabasePrecision()).GroupBy(o => o.TenantId))
        {
            await outbox.AppendAsync(transaction, tenant.Key, tenant
                .Select(o => new EventDraft(EventTypes.TeacherPresence, EventTypes.Teacher(o.Presence.TeacherId), o.Presence)).ToList());
        }
        await transaction.CommitAsync();
        return offline;
    }

    private sealed class PresenceRow
    {
        public string TeacherId { get; init; } = "";
        public string Status { get; init; } = "";
        public DateTime ChangedAt { get; init; }
        public DateTime? LastSeenAt { get; init; }

        public TeacherPresence ToPresence() =>
            new(TeacherId, PresenceRules.FromDatabase(Status), LastSeenAt is not null, ChangedAt.AsUtc(), LastSeenAt?.AsUtc());
    }

    private sealed class DueRow
    {
        public Guid TenantId { get; init; }
        public string TeacherId { get; init; } = "";
        public DateTime ChangedAt { get; init; }
        public bool Connected { get; init; }
    }
}
