using Callern.Platform.Infrastructure;
using Callern.Platform.Matching;
using Callern.Platform.People;
using Callern.Platform.Signaling;
using Callern.Platform.Tenancy;
using Callern.Platform.Turn;
using Callern.Platform.Wallets;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>
/// The call state machine: request → (queued) → ringing → accepted → connected → ended. Every
/// transition is a conditional update inside a transaction that locks the call row; events go out
/// only after the commit. Timers are durable deadlines (<see cref="CallDeadlines"/>).
/// </summary>
public sealed class CallService(
    NpgsqlDataSource db, CallHolds holds, PresenceService presence, AvailableTeachers availableTeachers, LiveCallParticipants liveParticipants,
    SettingsStore settings, CallEnding ending, CallAcceptedEvents acceptedEvents, CallNotifier notify, TimeProvider time)
{
    public static readonly TimeSpan QueueRetry = TimeSpan.FromSeconds(2);
    private const int OfferSpares = 10;

    /// <summary>
    /// A student asks for a call. One transaction of three round trips when the first teacher tried
    /// is free, since a request's time to ring is the product's first impression: one reads what
    /// ranking needs of the student and inserts the call, one offers it (see <see cref="OfferAsync"/>),
    /// and the commit.
    /// </summary>
    public async Task<Call> RequestAsync(Caller student, CallRequest request)
    {
        var rules = (await settings.GetAsync(student.TenantId)).Calls;
        var now = time.GetUtcNow().ToDatabasePrecision();
        var after = new List<Func<Task>>();
        CallRecord call;
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            (Student? Profile, AvailableTeachers.StudentFacts Facts) known;
            CallRecord? inserted;
            try
            {
                // The call goes in only when its language and level are known (asked for, or on the
                // profile, as are the accent and specialization) and the student has minutes left.
                await using var results = await connection.QueryResultsAsync(
                    $"""
                    {StudentForCallSql};
                    INSERT INTO calls (id, tenant_id, student_id, state, language, level, accent, specialization, preferred_teachers, requested_at)
                    SELECT @callId, @tenantId, @studentId, 'queued', coalesce(@language, s.target_language), coalesce(@level, s.level),
                           coalesce(@accent, s.preferred_accent), coalesce(@specialization, s.preferred_specialization), @preferred, @now
                    FROM (SELECT 1) one LEFT JOIN students s ON s.tenant_id = @tenantId AND s.id = @studentId
                    WHERE coalesce(@language, s.target_language) IS NOT NULL AND coalesce(@level, s.level) IS NOT NULL
                      AND ({WalletStore.AvailableSecondsSql}) > 0
                    RETURNING {CallStore.Columns};
                    """,
                    new
                    {
                        callId = Guid.CreateVersion7(now), tenantId = student.TenantId, studentId = student.UserId, request.Language, request.Level,
                        request.Accent, request.Specialization, preferred = (request.PreferredTeachers ?? []).ToArray(), now
                    },
                    transaction);
                known = await ReadStudentForCallAsync(results);
                inserted = await results.ReadSingleOrDefaultAsync<CallRecord>();
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                throw CallRuleException.CallInProgress();
            }
            call = inserted ?? throw ((request.Language ?? known.Profile?.TargetLanguage) is null || (request.Level ?? known.Profile?.Level) is null
                ? CallRuleException.Invalid("Name the language and level, or set them on the student's profile.")
                : CallRuleException.NoMinutes());
            await RingOrQueueAsync(connection, transaction, call, known.Profile, known.Facts, [], rules, now, after);
            await transaction.CommitAsync();
        }
        await CallEnding.RunAsync(after);
        return (await GetAsync(student.TenantId, call.Id))!;
    }

    /// <summary>
    /// Rings the best free teachers for a waiting call, or leaves it queued. Runs after each decline
    /// or timeout (the cascade) and on the queue's retry deadline.
    /// </summary>
    public async Task DispatchAsync(Guid tenantId, Guid callId)
    {
        var rules = (await settings.GetAsync(tenantId)).Calls;
        var after = new List<Func<Task>>();
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            CallRecord? call;
            List<(string TeacherId, bool Open)> offers;
            await using (var results = await connection.QueryResultsAsync(
                $"""
                SELECT {CallStore.Columns} FROM calls WHERE id = @callId AND tenant_id = @tenantId FOR UPDATE;
                SELECT teacher_id, outcome IS NULL FROM call_offers WHERE call_id = @callId;
                """,
                new { callId, tenantId }, transaction))
            {
                call = await results.ReadSingleOrDefaultAsync<CallRecord>();
                offers = await results.ReadAsync<(string TeacherId, bool Open)>();
            }
            if (call is null || call.State is not ("queued" or "ringing") || offers.Any(o => o.Open))
            {
                return;
            }
            var (student, facts) = await StudentForCallAsync(connection, transaction, tenantId, call.StudentId);
            await RingOrQueueAsync(connection, transaction, call, student, facts, offers.Select(o => o.TeacherId).ToList(), rules,
                time.GetUtcNow().ToDatabasePrecision(), after);
            await transaction.CommitAsync();
        }
        await CallEnding.RunAsync(after);
    }

    /// <summary>Student <c>@studentId</c> of tenant <c>@tenantId</c>: the profile, and what ranking needs to know of them.</summary>
    private const string StudentForCallSql = $"{PeopleStore.StudentSql};\n{AvailableTeachers.StudentFactsSql}";

    private static async Task<(Student? Profile, AvailableTeachers.StudentFacts Facts)> StudentForCallAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, string studentId)
    {
        await using var results = await connection.QueryResultsAsync(StudentForCallSql, new { tenantId, studentId }, transaction);
        return await ReadStudentForCallAsync(results);
    }

    private static async Task<(Student? Profile, AvailableTeachers.StudentFacts Facts)> ReadStudentForCallAsync(RowResults results) =>
        (await PeopleStore.ReadStudentAsync(results), await AvailableTeachers.ReadStudentFactsAsync(results));

    /// <summary>Offers the locked <paramref name="call"/> to the best free teachers it has not tried, or queues it.</summary>
    private async Task RingOrQueueAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, Student? student, AvailableTeachers.StudentFacts facts,
        IReadOnlyCollection<string> tried, CallSettings rules, DateTimeOffset now, List<Func<Task>> after)
    {
        var wanted = Math.Min(rules.RingStrategy == RingStrategy.Parallel ? rules.ParallelRingCount : 1, rules.MaxOffersPerRequest - tried.Count);
        var expiresAt = now.AddSeconds(rules.OfferTimeoutSeconds);
        var offered = new List<(Guid OfferId, string TeacherId)>();
        if (wanted > 0)
        {
            var request = new MatchRequest(call.Language, call.Level, call.Accent, call.Specialization, call.PreferredTeachers, student?.TimeZone ?? "UTC");
            var skip = tried.ToHashSet(StringComparer.Ordinal);
            // The cached snapshot first; if nobody in it could be offered, a fresh one before queueing.
            foreach (var fresh in new[] { false, true })
            {
                var (pool, read) = await availableTeachers.GetAsync(connection, transaction, call.TenantId, fresh);
                // Spares: a teacher another request is offering at this moment is skipped for the next best.
                var ranked = Ranking.Rank(request, pool.For(facts, skip), rules.Ranking, now, wanted + OfferSpares);
                await OfferAsync(connection, transaction, call, ranked, wanted, now, expiresAt, pool, offered);
                if (offered.Count > 0 || read)
                {
                    break;
                }
            }
        }
        var (tenantId, callId) = (call.TenantId, call.Id);
        if (offered.Count > 0)
        {
            var incoming = offered.Select(o => (o.TeacherId, Event: new IncomingCallEvent(
                o.OfferId, callId, expiresAt, CallRules.Preview(student, call.StudentId), call.Language, call.Level, call.Specialization))).ToList();
            after.Add(() => Task.WhenAll(incoming.Select(i => notify.User(tenantId, i.TeacherId).IncomingCall(i.Event))
                .Append(notify.User(tenantId, call.StudentId).CallRinging(new CallRingingEvent(callId, offered.Count)))));
        }
        else
        {
            var giveUpAt = call.RequestedAt.AsUtc().AddSeconds(rules.MaxQueueWaitSeconds);
            if (call.State != "queued")
            {
                await connection.ExecuteAsync("UPDATE calls SET state = 'queued' WHERE id = @callId", new { callId }, transaction);
            }
            if (giveUpAt <= now)
            {
                await ending.EndLockedAsync(connection, transaction, call, EndReasons.NoTeacher, "platform", now, after);
            }
            else
            {
                await Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.QueueTimeout, callId, tenantId, giveUpAt);
                await Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.QueueRetry, callId, tenantId, now + QueueRetry);
                var position = await CallStore.QueuePositionAsync(connection, transaction, call);
                after.Add(() => notify.User(tenantId, call.StudentId).CallQueued(new CallQueuedEvent(callId, position, giveUpAt)));
            }
        }
    }

    /// <summary>Offers the call to the best of <paramref name="ranked"/> until <paramref name="wanted"/> took it, one round trip per teacher tried.</summary>
    private static async Task OfferAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, IReadOnlyList<RankedCandidate> ranked, int wanted,
        DateTimeOffset now, DateTimeOffset expiresAt, AvailableTeachers.Snapshot pool, List<(Guid OfferId, string TeacherId)> offered)
    {
        foreach (var candidate in ranked)
        {
            if (offered.Count == wanted)
            {
                return;
            }
            if (!pool.TryClaim(candidate.TeacherId))
            {
                continue;
            }
            var offerId = Guid.CreateVersion7(now);
            // The snapshot may be up to a second old, so the insert checks that the teacher is still
            // available. The partial unique index keeps a teacher to one open offer: a concurrent request
            // may have taken them. On this node the snapshot's claim keeps requests apart; across nodes,
            // a request offering a teacher holds a transaction lock on them, which others only try: they
            // skip to their next candidate at once instead of queueing behind it. The offer's timeout
            // goes in with it. If the teacher was accepting another call, the insert waited for that
            // commit and went in; its own snapshot could not see the call, so the second statement,
            // with a snapshot of its own, checks and takes the offer and its timeout back. If the
            // offer stands, a queued call is ringing now and its queue retry is over.
            await using var results = await connection.QueryResultsAsync(
                """
                WITH offer AS (
                    INSERT INTO call_offers (id, tenant_id, call_id, teacher_id, offered_at, expires_at, score)
                    SELECT @offerId, @TenantId, @Id, @TeacherId, @now, @expiresAt, @Score
                    WHERE pg_try_advisory_xact_lock(hashtextextended(@TenantId::text || '/' || @TeacherId, 0))
                      AND EXISTS (SELECT 1 FROM teacher_presence p
                                  WHERE p.tenant_id = @TenantId AND p.teacher_id = @TeacherId AND p.status = 'available')
                    ON CONFLICT (tenant_id, teacher_id) WHERE outcome IS NULL DO NOTHING
                    RETURNING id)
                INSERT INTO deadlines (kind, subject_id, tenant_id, due_at) SELECT @OfferTimeout, id, @TenantId, @expiresAt FROM offer RETURNING subject_id;
                WITH busy AS (
                    DELETE FROM call_offers WHERE id = @offerId
                      AND EXISTS (SELECT 1 FROM calls WHERE tenant_id = @TenantId AND teacher_id = @TeacherId AND state IN ('accepted', 'connected'))
                    RETURNING id)
                DELETE FROM deadlines WHERE kind = @OfferTimeout AND subject_id IN (SELECT id FROM busy) RETURNING subject_id;
                UPDATE calls SET state = 'ringing' WHERE id = @Id AND state = 'queued' AND EXISTS (SELECT 1 FROM call_offers WHERE id = @offerId);
                DELETE FROM deadlines WHERE kind = @QueueRetry AND subject_id = @Id AND EXISTS (SELECT 1 FROM call_offers WHERE id = @offerId);
                """,
                new { offerId, call.TenantId, call.Id, candidate.TeacherId, now, expiresAt, candidate.Score, CallDeadlines.OfferTimeout, CallDeadlines.QueueRetry },
                transaction);
            var inserted = (await results.ReadAsync<Guid>()).Any();
            var takenBack = (await results.ReadAsync<Guid>()).Any();
            if (inserted && !takenBack)
            {
                offered.Add((offerId, candidate.TeacherId));
            }
        }
    }

    public async Task<CallAcceptedEvent> AcceptAsync(Caller teacher, Guid offerId)
    {
        try
        {
            return await AcceptOfferAsync(teacher, offerId);
        }
        catch (CallRuleException busy) when (busy.Code == "teacher_busy")
        {
            // The teacher took another call after this offer was made: decline it for them so the
            // student's call rings the next teacher now instead of after the offer's timeout.
            await DeclineAsync(teacher, offerId);
            throw;
        }
    }

    private async Task<CallAcceptedEvent> AcceptOfferAsync(Caller teacher, Guid offerId)
    {
        var rules = (await settings.GetAsync(teacher.TenantId)).Calls;
        var after = new List<Func<Task>>();
        CallRecord call;
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var now = time.GetUtcNow().ToDatabasePrecision();
            // Lock order everywhere: the call row first, then its offers. Two teachers accepting
            // offers of one call at once queue on the call row instead of deadlocking on each other's offers.
            var offerCall = await connection.QuerySingleRowOrDefaultAsync<Guid?>(
                "SELECT call_id FROM call_offers WHERE id = @offerId AND tenant_id = @TenantId AND teacher_id = @UserId",
                new { offerId, teacher.TenantId, teacher.UserId }, transaction) ?? throw CallRuleException.OfferNotFound();
            var locked = await CallStore.LockAsync(connection, transaction, teacher.TenantId, offerCall);
            var callId = await connection.QuerySingleRowOrDefaultAsync<Guid?>(
                """
                UPDATE call_offers SET outcome = 'accepted', decided_at = @now
                WHERE id = @offerId AND outcome IS NULL AND expires_at > @now
                RETURNING call_id
                """,
                new { offerId, now }, transaction);
            if (callId is null || locked is not { State: "ringing" })
            {
                throw CallRuleException.OfferClosed();
            }
            try
            {
                await connection.ExecuteAsync(
                    "UPDATE calls SET state = 'accepted', teacher_id = @UserId, accepted_at = @now WHERE id = @callId AND state = 'ringing'",
                    new { teacher.UserId, now, callId }, transaction);
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                throw CallRuleException.TeacherBusy();
            }
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.OfferTimeout, offerId);
            await ending.RevokeOpenOffersAsync(connection, transaction, locked, "revoked", now, after);
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.QueueTimeout, locked.Id);
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.QueueRetry, locked.Id);
            call = (await CallStore.LockAsync(connection, transaction, teacher.TenantId, callId.Value))!;
            var hold = await holds.HoldAsync(teacher.TenantId, call.StudentId, call.Id, rules.MaxCallMinutes * 60L, transaction);
            if (hold.HeldSeconds == 0)
            {
                await ending.EndLockedAsync(connection, transaction, call, EndReasons.NoMinutes, "platform", now, after);
                await transaction.CommitAsync();
                await CallEnding.RunAsync(after);
                throw CallRuleException.NoMinutes();
            }
            await Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.SetupTimeout, call.Id, call.TenantId, now.AddSeconds(rules.SetupTimeoutSeconds));
            await transaction.CommitAsync();
        }
        await CallEnding.RunAsync(after);
        var toTeacher = await acceptedEvents.ForAsync(call, teacher.UserId);
        var toStudent = await acceptedEvents.ForAsync(call, call.StudentId, teacherName: teacher.Name);
        await Task.WhenAll(notify.User(teacher.TenantId, teacher.UserId).CallAccepted(toTeacher),
            notify.User(teacher.TenantId, call.StudentId).CallAccepted(toStudent));
        return toTeacher;
    }

    public async Task DeclineAsync(Caller teacher, Guid offerId)
    {
        Guid callId;
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var declined = await connection.QuerySingleRowOrDefaultAsync<Guid?>(
                """
                UPDATE call_offers SET outcome = 'declined', decided_at = @now
                WHERE id = @offerId AND tenant_id = @TenantId AND teacher_id = @UserId AND outcome IS NULL
                RETURNING call_id
                """,
                new { offerId, teacher.TenantId, teacher.UserId, now = time.GetUtcNow() }, transaction);
            callId = declined ?? throw await OfferErrorAsync(connection, transaction, teacher, offerId);
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.OfferTimeout, offerId);
            await transaction.CommitAsync();
        }
        await DispatchAsync(teacher.TenantId, callId);
    }

    /// <summary>Offers the school's waiting requests to free teachers, oldest request first.</summary>
    public async Task DispatchQueuedAsync(Guid tenantId)
    {
        List<Guid> queued;
        await using (var connection = await db.OpenConnectionAsync())
        {
            queued = await connection.QueryRowsAsync<Guid>(
                "SELECT id FROM calls WHERE tenant_id = @tenantId AND state = 'queued' ORDER BY seq", new { tenantId });
        }
        foreach (var callId in queued)
        {
            await DispatchAsync(tenantId, callId);
        }
    }

    /// <summary>An offer ran out: auto-decline, set a teacher who keeps missing offers away, ring the next.</summary>
    internal async Task OfferTimedOutAsync(Deadline deadline, DeadlineContext context)
    {
        var offer = await context.Connection.QuerySingleRowOrDefaultAsync<(Guid CallId, string TeacherId)>(
            "UPDATE call_offers SET outcome = 'timed_out', decided_at = @now WHERE id = @SubjectId AND outcome IS NULL RETURNING call_id, teacher_id",
            new { deadline.SubjectId, now = time.GetUtcNow() }, context.Transaction);
        if (offer.TeacherId is null)
        {
            return;
        }
        var rules = (await settings.GetAsync(deadline.TenantId)).Calls;
        var recent = await context.Connection.QueryRowsAsync<string?>(
            "SELECT outcome FROM call_offers WHERE tenant_id = @TenantId AND teacher_id = @TeacherId ORDER BY offered_at DESC LIMIT @n",
            new { deadline.TenantId, offer.TeacherId, n = rules.MissedOffersBeforeAway }, context.Transaction);
        var setAway = recent.Count == rules.MissedOffersBeforeAway && recent.All(o => o == "timed_out");
        var teacher = new Caller(deadline.TenantId, offer.TeacherId, Roles.Teacher, "");
        context.AfterCommit(async () =>
        {
            await notify.User(deadline.TenantId, offer.TeacherId).OfferClosed(new OfferClosedEvent(deadline.SubjectId, offer.CallId, "timed_out"));
            if (setAway)
            {
                await presence.SetAsync(teacher, PresenceStatus.Away);
            }
            await DispatchAsync(deadline.TenantId, offer.CallId);
        });
    }

    public async Task<Call> RateAsync(Caller student, Guid callId, int stars, string? comment)
    {
        await using var connection = await db.OpenConnectionAsync();
        var call = await connection.QuerySingleRowOrDefaultAsync<CallRecord>(
            $"SELECT {CallStore.Columns} FROM calls WHERE id = @callId AND tenant_id = @TenantId AND student_id = @UserId",
            new { callId, student.TenantId, student.UserId }) ?? throw CallRuleException.NotFound();
        if (call.State != "ended" || call.ConnectedAt is null || call.TeacherId is null)
        {
            throw CallRuleException.WrongState("Only a call that connected and ended can be rated.");
        }
        var inserted = await connection.ExecuteAsync(
            """
            INSERT INTO call_ratings (call_id, tenant_id, student_id, teacher_id, stars, comment, created_at)
            VALUES (@callId, @TenantId, @UserId, @TeacherId, @stars, @comment, @now) ON CONFLICT (call_id) DO NOTHING
            """,
            new { callId, student.TenantId, student.UserId, call.TeacherId, stars, comment, now = time.GetUtcNow() });
        if (inserted == 0)
        {
            throw CallRuleException.AlreadyRated();
        }
        return (await CallStore.GetAsync(connection, student.TenantId, callId))!;
    }

    /// <summary>The other participant of a live (accepted or connected) call of the caller, for the signal relay.</summary>
    public Task<string> PeerForSignalAsync(Caller caller, Guid callId) => liveParticipants.PeerAsync(caller, callId);

    public async Task<Call?> GetAsync(Guid tenantId, Guid callId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await CallStore.GetAsync(connection, tenantId, callId);
    }

    public async Task<IReadOnlyList<Call>> ListAsync(Guid tenantId, string? studentId, string? teacherId, string? state, Guid? before, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await CallStore.ListAsync(connection, tenantId, studentId, teacherId, state, before, limit);
    }

    /// <summary>POST /v1/matching/preview: the ranking a request would see now, without ringing anyone.</summary>
    public async Task<IReadOnlyList<RankedCandidate>> PreviewAsync(Guid tenantId, string studentId, CallRequest request)
    {
        var rules = (await settings.GetAsync(tenantId)).Calls;
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var (profile, studentFacts) = await StudentForCallAsync(connection, transaction, tenantId, studentId);
        var (language, level) = (request.Language ?? profile?.TargetLanguage ?? "", request.Level ?? profile?.Level ?? "");
        var (pool, _) = await availableTeachers.GetAsync(connection, transaction, tenantId, fresh: true);
        return Ranking.Rank(
            new MatchRequest(language, level, request.Accent ?? profile?.Preferences.Accent,
                request.Specialization ?? profile?.Preferences.Specialization, request.PreferredTeachers ?? [], profile?.TimeZone ?? "UTC"),
            pool.For(studentFacts, new HashSet<string>()), rules.Ranking, time.GetUtcNow());
    }

    private static async Task<CallRuleException> OfferErrorAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller teacher, Guid offerId) =>
        await connection.ExecuteScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM call_offers WHERE id = @offerId AND tenant_id = @TenantId AND teacher_id = @UserId)",
            new { offerId, teacher.TenantId, teacher.UserId }, transaction)
            ? CallRuleException.OfferClosed()
            : CallRuleException.OfferNotFound();
}
