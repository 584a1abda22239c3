using Callern.Platform.Infrastructure;
using Callern.Platform.Wallets;
using Dapper;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>The SQL of metering (<see cref="CallMetering"/>).</summary>
internal static class MeteringStore
{
    /// <summary>Writes the call's state, meter and the parties' latest media runs, while it is live.</summary>
    public static Task UpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call) =>
        connection.ExecuteAsync(
            """
            UPDATE calls SET state = @State, connected_at = @ConnectedAt, metered_seconds = @MeteredSeconds, metering_since = @MeteringSince,
                   paused_at = @PausedAt, student_flowing_since = @StudentFlowingSince, student_confirmed_at = @StudentConfirmedAt,
                   teacher_flowing_since = @TeacherFlowingSince, teacher_confirmed_at = @TeacherConfirmedAt
            WHERE id = @Id AND state IN ('accepted', 'connected')
            """,
            new
            {
                State = call.State.ToSql(), call.ConnectedAt, call.MeteredSeconds, call.MeteringSince, call.PausedAt, call.StudentFlowingSince,
                call.StudentConfirmedAt, call.TeacherFlowingSince, call.TeacherConfirmedAt, call.Id,
            },
            transaction);

    /// <summary>
    /// In one round trip: the deadlines' calls, locked in id order, and the room left in each one's
    /// hold (<see cref="CallHolds.RoomSql"/>), by call id.
    /// </summary>
    public static async Task<(Dictionary<Guid, CallRecord> Calls, Dictionary<Guid, (long Held, long Available)> Room)> LockForTickAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<Deadline> deadlines)
    {
        await using var results = await connection.QueryResultsAsync(
            $"""
            SELECT {CallStore.Columns} FROM calls WHERE id = ANY(@callIds) ORDER BY id FOR UPDATE;
            {CallHolds.RoomSql};
            """,
            new { callIds = deadlines.Select(d => d.SubjectId).ToArray(), tenantIds = deadlines.Select(d => d.TenantId).ToArray() }, transaction);
        var calls = (await results.ReadAsync<CallRecord>()).ToDictionary(c => c.Id);
        var room = (await results.ReadAsync<(Guid CallId, long Held, long Available)>()).ToDictionary(r => r.CallId, r => (r.Held, r.Available));
        return (calls, room);
    }

    public static Task SetWarnedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid callId, int threshold) =>
        connection.ExecuteAsync("UPDATE calls SET warned_minutes = @threshold WHERE id = @Id", new { threshold, Id = callId }, transaction);

    /// <summary>Raises the live calls' confirmation stamps to the latest of each party (never lowers them).</summary>
    public static Task StampAsync(NpgsqlConnection connection, IReadOnlyList<(Guid CallId, bool IsStudent, DateTimeOffset ConfirmedAt)> stamps) =>
        connection.ExecuteAsync(
            """
            WITH stamp AS (
                SELECT id, max(at) FILTER (WHERE is_student) AS student_at, max(at) FILTER (WHERE NOT is_student) AS teacher_at
                FROM unnest(@ids, @isStudent, @at) u(id, is_student, at) GROUP BY id),
            locked AS (SELECT id FROM calls WHERE id IN (SELECT id FROM stamp) AND state IN ('accepted', 'connected') ORDER BY id FOR UPDATE)
            UPDATE calls c SET student_confirmed_at = greatest(c.student_confirmed_at, s.student_at),
                               teacher_confirmed_at = greatest(c.teacher_confirmed_at, s.teacher_at)
            FROM stamp s JOIN locked l ON l.id = s.id
            WHERE c.id = s.id
            """,
            new { ids = stamps.Select(s => s.CallId).ToArray(), isStudent = stamps.Select(s => s.IsStudent).ToArray(), at = stamps.Select(s => s.ConfirmedAt).ToArray() });
}
