using Callern.Platform.Infrastructure;
using Callern.Platform.Matching;
using Callern.Platform.People;
using Callern.Platform.Tenancy;
using Dapper;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>A call row as the service works on it.</summary>
internal sealed record CallRecord
{
    public Guid Id { get; init; }
    public long Seq { get; init; }
    public Guid TenantId { get; init; }
    public string StudentId { get; init; } = "";
    public string? TeacherId { get; init; }
    public string State { get; init; } = "";
    public string? EndReason { get; init; }
    public string? EndedBy { get; init; }
    public string Language { get; init; } = "";
    public string Level { get; init; } = "";
    public string? Accent { get; init; }
    public string? Specialization { get; init; }
    public string[] PreferredTeachers { get; init; } = [];
    public DateTime RequestedAt { get; init; }
    public DateTime? AcceptedAt { get; init; }
    public DateTime? ConnectedAt { get; init; }
    public DateTime? EndedAt { get; init; }
    public long MeteredSeconds { get; init; }
    public DateTime? MeteringSince { get; init; }
    public DateTime? PausedAt { get; init; }
    public DateTime? StudentFlowingSince { get; init; }
    public DateTime? StudentConfirmedAt { get; init; }
    public DateTime? TeacherFlowingSince { get; init; }
    public DateTime? TeacherConfirmedAt { get; init; }
    public int? WarnedMinutes { get; init; }
    public long? BilledSeconds { get; init; }

    public Meter Meter => new(MeteredSeconds, MeteringSince?.AsUtc(), PausedAt?.AsUtc());

    public bool IsParticipant(string userId) => userId == StudentId || userId == TeacherId;

    public string? PeerOf(string userId) => userId == StudentId ? TeacherId : userId == TeacherId ? StudentId : null;
}

/// <summary>SQL of the calls feature, and the matching read model of candidate teachers.</summary>
internal static class CallStore
{
    public const string Columns =
        """
        id, seq, tenant_id, student_id, teacher_id, state, end_reason, ended_by, language, level, accent, specialization, preferred_teachers,
        requested_at, accepted_at, connected_at, ended_at, metered_seconds, metering_since, paused_at,
        student_flowing_since, student_confirmed_at, teacher_flowing_since, teacher_confirmed_at, warned_minutes, billed_seconds
        """;

    public static Task<CallRecord?> LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, Guid callId) =>
        connection.QuerySingleRowOrDefaultAsync<CallRecord>(
            $"SELECT {Columns} FROM calls WHERE id = @callId AND tenant_id = @tenantId FOR UPDATE", new { callId, tenantId }, transaction);

    public static Task<CallRecord?> FindAsync(NpgsqlConnection connection, Guid tenantId, Guid callId) =>
        connection.QuerySingleRowOrDefaultAsync<CallRecord>(
            $"SELECT {Columns} FROM calls WHERE id = @callId AND tenant_id = @tenantId", new { callId, tenantId });

    /// <summary>The call, locked, if the caller takes part in it; not found otherwise.</summary>
    public static async Task<CallRecord> LockParticipantAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller caller, Guid callId)
    {
        var call = await LockAsync(connection, transaction, caller.TenantId, callId);
        return call is not null && call.IsParticipant(caller.UserId) ? call : throw CallRuleException.NotFound();
    }

    public static async Task<Call?> GetAsync(NpgsqlConnection connection, Guid tenantId, Guid callId)
    {
        var record = await FindAsync(connection, tenantId, callId);
        return record is null ? null : (await ToCallsAsync(connection, [record]))[0];
    }

    /// <summary>History newest first; <paramref name="before"/> is the id of the last call of the previous page (UUIDv7 sorts by time).</summary>
    public static async Task<IReadOnlyList<Call>> ListAsync(
        NpgsqlConnection connection, Guid tenantId, string? studentId, string? teacherId, string? state, Guid? before, int limit)
    {
        var records = await connection.QueryRowsAsync<CallRecord>(
            $"""
            SELECT {Columns} FROM calls
            WHERE tenant_id = @tenantId AND (@studentId::text IS NULL OR student_id = @studentId)
              AND (@teacherId::text IS NULL OR teacher_id = @teacherId) AND (@state::text IS NULL OR state = @state)
              AND (@before::uuid IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """,
            new { tenantId, studentId, teacherId, state, before, limit });
        return await ToCallsAsync(connection, records);
    }

    private static async Task<IReadOnlyList<Call>> ToCallsAsync(NpgsqlConnection connection, IReadOnlyList<CallRecord> records)
    {
        if (records.Count == 0)
        {
            return [];
        }
        var ids = records.Select(r => r.Id).ToArray();
        var offers = (await connection.QueryRowsAsync<OfferRow>(
            "SELECT id, call_id, teacher_id, offered_at, expires_at, outcome, decided_at, score FROM call_offers WHERE call_id = ANY(@ids) ORDER BY offered_at, coalesce(decided_at, 'infinity'), id",
            new { ids })).ToLookup(o => o.CallId);
        var ratings = (await connection.QueryRowsAsync<RatingRow>(
            "SELECT call_id, stars, comment, created_at FROM call_ratings WHERE call_id = ANY(@ids)", new { ids })).ToDictionary(r => r.CallId);
        var positions = new Dictionary<Guid, int>();
        foreach (var queued in records.Where(r => r.State == "queued"))
        {
            positions[queued.Id] = await QueuePositionAsync(connection, null, queued);
        }
        return records.Select(r => new Call(
            r.Id, r.StudentId, r.TeacherId, ParseState(r.State), r.EndReason, r.EndedBy, r.Language, r.Level, r.Accent, r.Specialization,
            r.RequestedAt.AsUtc(), r.AcceptedAt?.AsUtc(), r.ConnectedAt?.AsUtc(), r.EndedAt?.AsUtc(), r.MeteredSeconds, r.BilledSeconds,
            positions.TryGetValue(r.Id, out var position) ? position : null,
            offers[r.Id].Select(o => new CallOffer(o.Id, o.TeacherId, o.OfferedAt.AsUtc(), o.ExpiresAt.AsUtc(), o.Outcome, o.DecidedAt?.AsUtc(), o.Score)).ToList(),
            ratings.TryGetValue(r.Id, out var rating) ? new CallRating(rating.Stars, rating.Comment, rating.CreatedAt.AsUtc()) : null)).ToList();
    }

    /// <summary>1 for the oldest waiting request of the school.</summary>
    public static Task<int> QueuePositionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CallRecord call) =>
        connection.ExecuteScalarAsync<int>(
            "SELECT count(*)::int FROM calls WHERE tenant_id = @TenantId AND state = 'queued' AND seq <= @Seq",
            new { call.TenantId, call.Seq }, transaction);

    public static CallState ParseState(string state) => state switch
    {
        "queued" => CallState.Queued,
        "ringing" => CallState.Ringing,
        "accepted" => CallState.Accepted,
        "connected" => CallState.Connected,
        _ => CallState.Ended,
    };

    private sealed class OfferRow
    {
        public Guid Id { get; init; }
        public Guid CallId { get; init; }
        public string TeacherId { get; init; } = "";
        public DateTime OfferedAt { get; init; }
        public DateTime ExpiresAt { get; init; }
        public string? Outcome { get; init; }
        public DateTime? DecidedAt { get; init; }
        public double Score { get; init; }
    }

    private sealed class RatingRow
    {
        public Guid CallId { get; init; }
        public int Stars { get; init; }
        public string? Comment { get; init; }
        public DateTime CreatedAt { get; init; }
    }
}
