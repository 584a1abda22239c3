using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Dapper;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>The student rates the teacher of a call that connected and ended, once; ratings feed matching.</summary>
public sealed class CallRatings(NpgsqlDataSource db, TimeProvider time)
{
    public async Task<Call> RateAsync(Caller student, Guid callId, int stars, string? comment)
    {
        await using var connection = await db.OpenConnectionAsync();
        var call = await RatingStore.FindStudentCallAsync(connection, student, callId) ?? throw CallRuleException.NotFound();
        if (call.State != CallState.Ended || call.ConnectedAt is null || call.TeacherId is null)
        {
            throw CallRuleException.WrongState("Only a call that connected and ended can be rated.");
        }
        if (!await RatingStore.InsertAsync(connection, student, callId, call.TeacherId, stars, comment, time.GetUtcNow()))
        {
            throw CallRuleException.AlreadyRated();
        }
        return (await CallStore.GetAsync(connection, student.TenantId, callId))!;
    }
}

/// <summary>The SQL of ratings (<see cref="CallRatings"/>), and the ratings matching reads (<see cref="MatchingFacts"/>).</summary>
internal static class RatingStore
{
    public static Task<CallRecord?> FindStudentCallAsync(NpgsqlConnection connection, Caller student, Guid callId) =>
        connection.QuerySingleRowOrDefaultAsync<CallRecord>(
            $"SELECT {CallStore.Columns} FROM calls WHERE id = @callId AND tenant_id = @TenantId AND student_id = @UserId",
            new { callId, student.TenantId, student.UserId });

    /// <summary>False if the call was rated already.</summary>
    public static async Task<bool> InsertAsync(
        NpgsqlConnection connection, Caller student, Guid callId, string teacherId, int stars, string? comment, DateTimeOffset now) =>
        await connection.ExecuteAsync(
            """
            INSERT INTO call_ratings (call_id, tenant_id, student_id, teacher_id, stars, comment, created_at)
            VALUES (@callId, @TenantId, @UserId, @TeacherId, @stars, @comment, @now) ON CONFLICT (call_id) DO NOTHING
            """,
            new { callId, student.TenantId, student.UserId, TeacherId = teacherId, stars, comment, now }) > 0;

    /// <summary>
    /// For a caller's own batch of statements: a <c>SELECT</c> of (teacher id, average stars as
    /// float8), per teacher, of the ratings student <c>@studentId</c> of tenant <c>@tenantId</c> gave.
    /// </summary>
    public const string OwnRatingsSql =
        "SELECT teacher_id, avg(stars)::float8 FROM call_ratings WHERE tenant_id = @tenantId AND student_id = @studentId GROUP BY teacher_id";
}
