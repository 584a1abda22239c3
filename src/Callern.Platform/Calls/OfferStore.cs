using Callern.Platform.Infrastructure;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>The SQL of offers, which ringing makes and answering, timeouts and ending close.</summary>
internal static class OfferStore
{
    /// <summary>Closes the call's open offers with <paramref name="outcome"/>; returns them.</summary>
    public static Task<List<(Guid Id, string TeacherId)>> CloseOpenAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid callId, string outcome, DateTimeOffset now) =>
        connection.QueryRowsAsync<(Guid Id, string TeacherId)>(
            "UPDATE call_offers SET outcome = @outcome, decided_at = @now WHERE call_id = @Id AND outcome IS NULL RETURNING id, teacher_id",
            new { outcome, now, Id = callId }, transaction);

    /// <summary>Times the offer out if it is still open; the teacher is null if it was not.</summary>
    public static Task<(Guid CallId, string TeacherId)> TimeOutAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid offerId, DateTimeOffset now) =>
        connection.QuerySingleRowOrDefaultAsync<(Guid CallId, string TeacherId)>(
            "UPDATE call_offers SET outcome = 'timed_out', decided_at = @now WHERE id = @SubjectId AND outcome IS NULL RETURNING call_id, teacher_id",
            new { SubjectId = offerId, now }, transaction);

    /// <summary>The outcomes of the teacher's <paramref name="n"/> latest offers, newest first (null while open).</summary>
    public static Task<List<string?>> RecentOutcomesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, string teacherId, int n) =>
        connection.QueryRowsAsync<string?>(
            "SELECT outcome FROM call_offers WHERE tenant_id = @TenantId AND teacher_id = @TeacherId ORDER BY offered_at DESC LIMIT @n",
            new { TenantId = tenantId, TeacherId = teacherId, n }, transaction);

    /// <summary>
    /// For matching's snapshot of available teachers (<see cref="MatchingFacts"/>): a condition, true
    /// when teacher <c>t.id</c> of tenant <c>t.tenant_id</c> holds an open offer or is in a live call.
    /// </summary>
    public const string TeacherBusySql =
        """
        (EXISTS (SELECT 1 FROM call_offers x WHERE x.tenant_id = t.tenant_id AND x.teacher_id = t.id AND x.outcome IS NULL)
                       OR EXISTS (SELECT 1 FROM calls c WHERE c.tenant_id = t.tenant_id AND c.teacher_id = t.id AND c.state IN ('accepted', 'connected')))
        """;
}
