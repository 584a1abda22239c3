using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Dapper;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>The SQL of answering an offer (<see cref="CallAnswering"/>).</summary>
internal static class AnsweringStore
{
    /// <summary>The call of the teacher's offer; null if the offer is not theirs.</summary>
    public static Task<Guid?> OfferCallAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller teacher, Guid offerId) =>
        connection.QuerySingleRowOrDefaultAsync<Guid?>(
            "SELECT call_id FROM call_offers WHERE id = @offerId AND tenant_id = @TenantId AND teacher_id = @UserId",
            new { offerId, teacher.TenantId, teacher.UserId }, transaction);

    /// <summary>Accepts the offer if it is open and unexpired; its call, or null.</summary>
    public static Task<Guid?> AcceptOfferAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid offerId, DateTimeOffset now) =>
        connection.QuerySingleRowOrDefaultAsync<Guid?>(
            """
            UPDATE call_offers SET outcome = 'accepted', decided_at = @now
            WHERE id = @offerId AND outcome IS NULL AND expires_at > @now
            RETURNING call_id
            """,
            new { offerId, now }, transaction);

    /// <summary>The ringing call is the teacher's now; a teacher already in a live call: <see cref="CallRuleException.TeacherBusy"/>.</summary>
    public static async Task AcceptCallAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid callId, string teacherId, DateTimeOffset now)
    {
        try
        {
            await connection.ExecuteAsync(
                "UPDATE calls SET state = 'accepted', teacher_id = @UserId, accepted_at = @now WHERE id = @callId AND state = 'ringing'",
                new { UserId = teacherId, now, callId }, transaction);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw CallRuleException.TeacherBusy();
        }
    }

    /// <summary>Declines the teacher's offer if it is open; its call, or null.</summary>
    public static Task<Guid?> DeclineAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller teacher, Guid offerId, DateTimeOffset now) =>
        connection.QuerySingleRowOrDefaultAsync<Guid?>(
            """
            UPDATE call_offers SET outcome = 'declined', decided_at = @now
            WHERE id = @offerId AND tenant_id = @TenantId AND teacher_id = @UserId AND outcome IS NULL
            RETURNING call_id
            """,
            new { offerId, teacher.TenantId, teacher.UserId, now }, transaction);

    public static Task<bool> OfferExistsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller teacher, Guid offerId) =>
        connection.ExecuteScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM call_offers WHERE id = @offerId AND tenant_id = @TenantId AND teacher_id = @UserId)",
            new { offerId, teacher.TenantId, teacher.UserId }, transaction);
}
