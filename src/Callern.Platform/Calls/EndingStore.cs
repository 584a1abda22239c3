using Dapper;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>The SQL of ending a call (<see cref="CallEnding"/>): the end itself, once, and what settlement actually charged.</summary>
internal static class EndingStore
{
    public static Task EndAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid callId, string reason, string endedBy, DateTimeOffset now, long metered, long billed) =>
        connection.ExecuteAsync(
            """
            UPDATE calls SET state = 'ended', end_reason = @reason, ended_by = @endedBy, ended_at = @now,
                             metered_seconds = @metered, metering_since = NULL, billed_seconds = @billed
            WHERE id = @Id AND state <> 'ended'
            """,
            new { reason, endedBy, now, metered, billed, Id = callId }, transaction);

    public static Task SetBilledAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid callId, long charged) =>
        connection.ExecuteAsync("UPDATE calls SET billed_seconds = @charged WHERE id = @Id", new { charged, Id = callId }, transaction);
}
