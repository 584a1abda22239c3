using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Dapper;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>The SQL of ratings (<see cref="CallRatings"/>), and the ratings matching reads (<see cref="MatchingFacts"/>).</summary>
internal static class RatingStore
{
    public static Task<CallRecord?> FindStudentCallAsync(NpgsqlConnection connection, Caller student, Guid callId) =>
        connection.QuerySingleRowOrDefaultAsync<CallRecord>(
            $"SELECT {CallStore.Columns} FROM calls WHERE id = @callId AND tenant_id = @TenantId AND student_id = @UserId",
            new { callId, student.TenantId, student.UserId });

    /// <summary>False if the call was rated already.</summary>
    public static async Task<bool> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Caller student, Guid callId, string teacherId, int stars, string? comment, DateTimeOffset now) =>
        await connection.ExecuteAsync(
            """
            INSERT INTO call_ratings (call_id, tenant_id, student_id, teacher_id, stars, comment, created_at)
            VALUES (@callId, @TenantId, @UserId, @TeacherId, @stars, @comment, @now) ON CONFLICT (call_id) DO NOTHING
            """,
            new { callId, student.TenantId, student.UserId, TeacherId = teacherId, stars, comment, now }, transaction) > 0;

    /// <summary>
    /// For a caller's own batch of statements: a <c>SELECT</c> of (teacher id, average stars as
    /// float8), per teacher, of the ratings student <c>@studentId</c> of tenant <c>@tenantId</c> gave.
    /// </summary>
    public const string OwnRatingsSql =
        "SELECT teacher_id, avg(stars)::float8 FROM call_ratings WHERE tenant_id = @tenantId AND student_id = @studentId GROUP BY teacher_id";
}
