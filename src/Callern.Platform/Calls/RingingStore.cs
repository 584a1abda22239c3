using Callern.Platform.Infrastructure;
using Callern.Platform.Matching;
using Callern.Platform.People;
using Callern.Platform.Signaling;
using Callern.Platform.Tenancy;
using Callern.Platform.Wallets;
using Dapper;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>The SQL of requests, ringing and the queue (<see cref="CallRequests"/>).</summary>
internal static class RingingStore
{
    /// <summary>
    /// In one round trip: what ranking needs of the student (<paramref name="studentSql"/>, read with
    /// <see cref="AvailableTeachers.ReadStudentAsync(RowResults)"/>), and the call, inserted queued only
    /// when its language and level are known (asked for, or on the profile, as are the accent and
    /// specialization) and the student has minutes left; null otherwise. A student with a live call
    /// already: <see cref="CallRuleException.CallInProgress"/>.
    /// </summary>
    public static async Task<((Student? Profile, AvailableTeachers.StudentFacts Facts) Student, CallRecord? Call)> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string studentSql, Caller student, CallRequest request, Guid callId, DateTimeOffset now)
    {
        try
        {
            await using var results = await connection.QueryResultsAsync(
                $"""
                {studentSql};
                INSERT INTO calls (id, tenant_id, student_id, state, language, level, accent, specialization, preferred_teachers, requested_at)
                SELECT @callId, @tenantId, @studentId, 'queued', coalesce(@language, s.target_language), coalesce(@level, s.level),
                       coalesce(@accent, s.preferred_accent), coalesce(@specialization, s.preferred_specialization), @preferred, @now
                FROM (SELECT 1) one LEFT JOIN ({PeopleStore.StudentSql}) s ON true
                WHERE coalesce(@language, s.target_language) IS NOT NULL AND coalesce(@level, s.level) IS NOT NULL
                  AND ({WalletStore.AvailableSecondsSql}) > 0
                RETURNING {CallStore.Columns};
                """,
                new
                {
                    callId, tenantId = student.TenantId, studentId = student.UserId, request.Language, request.Level,
                    request.Accent, request.Specialization, preferred = (request.PreferredTeachers ?? []).ToArray(), now
                },
                transaction);
            var known = await AvailableTeachers.ReadStudentAsync(results);
            return (known, await results.ReadSingleOrDefaultAsync<CallRecord>());
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw CallRuleException.CallInProgress();
        }
    }

    /// <summary>The call, locked, and the teachers it was offered to (whether each offer is still open).</summary>
    public static async Task<(CallRecord? Call, List<(string TeacherId, bool Open)> Offers)> LockWithOffersAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, Guid callId)
    {
        await using var results = await connection.QueryResultsAsync(
            $"""
            SELECT {CallStore.Columns} FROM calls WHERE id = @callId AND tenant_id = @tenantId FOR UPDATE;
            SELECT teacher_id, outcome IS NULL FROM call_offers WHERE call_id = @callId;
            """,
            new { callId, tenantId }, transaction);
        var call = await results.ReadSingleOrDefaultAsync<CallRecord>();
        return (call, await results.ReadAsync<(string TeacherId, bool Open)>());
    }

    /// <summary>
    /// Offers the call to one teacher, in one round trip; false if the teacher could not take it.
    /// The snapshot may be up to a second old, so the insert checks that the teacher is still
    /// available. The partial unique index keeps a teacher to one open offer: a concurrent request
    /// may have taken them. On this node the snapshot's claim keeps requests apart; across nodes,
    /// a request offering a teacher holds a transaction lock on them, which others only try: they
    /// skip to their next candidate at once instead of queueing behind it. The offer's timeout
    /// goes in with it. If the teacher was accepting another call, the insert waited for that
    /// commit and went in; its own snapshot could not see the call, so the second statement,
    /// with a snapshot of its own, checks and takes the offer and its timeout back. If the
    /// offer stands, a queued call is ringing now and its queue retry is over.
    /// </summary>
    public static async Task<bool> OfferAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, Guid offerId, RankedCandidate candidate,
        DateTimeOffset now, DateTimeOffset expiresAt)
    {
        await using var results = await connection.QueryResultsAsync(OfferSql,
            new { offerId, call.TenantId, call.Id, candidate.TeacherId, now, expiresAt, candidate.Score, CallDeadlines.OfferTimeout, CallDeadlines.QueueRetry },
            transaction);
        var inserted = (await results.ReadAsync<Guid>()).Any();
        var takenBack = (await results.ReadAsync<Guid>()).Any();
        return inserted && !takenBack;
    }

    private static readonly string OfferSql =
        $"""
        WITH offer AS (
            INSERT INTO call_offers (id, tenant_id, call_id, teacher_id, offered_at, expires_at, score)
            SELECT @offerId, @TenantId, @Id, @TeacherId, @now, @expiresAt, @Score
            WHERE pg_try_advisory_xact_lock(hashtextextended(@TenantId::text || '/' || @TeacherId, 0))
              AND {PresenceStore.TeacherAvailableSql("@TenantId", "@TeacherId")}
            ON CONFLICT (tenant_id, teacher_id) WHERE outcome IS NULL DO NOTHING
            RETURNING id)
        {Deadlines.ScheduleSql("SELECT @OfferTimeout, id, @TenantId, @expiresAt FROM offer")};
        WITH busy AS (
            DELETE FROM call_offers WHERE id = @offerId
              AND EXISTS (SELECT 1 FROM calls WHERE tenant_id = @TenantId AND teacher_id = @TeacherId AND state IN ('accepted', 'connected'))
            RETURNING id)
        {Deadlines.CancelSql("@OfferTimeout", "SELECT id FROM busy")};
        UPDATE calls SET state = 'ringing' WHERE id = @Id AND state = 'queued' AND EXISTS (SELECT 1 FROM call_offers WHERE id = @offerId);
        {Deadlines.CancelSql("@QueueRetry", "SELECT @Id WHERE EXISTS (SELECT 1 FROM call_offers WHERE id = @offerId)")};
        """;

    public static Task SetQueuedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid callId) =>
        connection.ExecuteAsync("UPDATE calls SET state = 'queued' WHERE id = @callId", new { callId }, transaction);

    /// <summary>The school's waiting requests, oldest first.</summary>
    public static Task<List<Guid>> QueuedAsync(NpgsqlConnection connection, Guid tenantId) =>
        connection.QueryRowsAsync<Guid>("SELECT id FROM calls WHERE tenant_id = @tenantId AND state = 'queued' ORDER BY seq", new { tenantId });
}
