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
    NpgsqlDataSource db, CallHolds holds, PeopleStore people, PresenceService presence, AvailableTeachers availableTeachers,
    LiveCallParticipants liveParticipants, SettingsStore settings, IceServerIssuer iceServers, CallNotifier notify, IOptions<SignalingOptions> signaling, TimeProvider time)
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
        await RunAsync(after);
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
        await RunAsync(after);
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
                await EndLockedAsync(connection, transaction, call, EndReasons.NoTeacher, "platform", now, after);
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
            await RevokeOpenOffersAsync(connection, transaction, locked, "revoked", now, after);
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.QueueTimeout, locked.Id);
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.QueueRetry, locked.Id);
            call = (await CallStore.LockAsync(connection, transaction, teacher.TenantId, callId.Value))!;
            var hold = await holds.HoldAsync(teacher.TenantId, call.StudentId, call.Id, rules.MaxCallMinutes * 60L, transaction);
            if (hold.HeldSeconds == 0)
            {
                await EndLockedAsync(connection, transaction, call, EndReasons.NoMinutes, "platform", now, after);
                await transaction.CommitAsync();
                await RunAsync(after);
                throw CallRuleException.NoMinutes();
            }
            await Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.SetupTimeout, call.Id, call.TenantId, now.AddSeconds(rules.SetupTimeoutSeconds));
            await transaction.CommitAsync();
        }
        await RunAsync(after);
        var student = new Caller(teacher.TenantId, call.StudentId, Roles.Student, "");
        var studentProfile = await people.FindStudentAsync(teacher.TenantId, call.StudentId);
        var teacherProfile = await people.FindTeacherAsync(teacher.TenantId, teacher.UserId);
        // Perfect negotiation: the teacher is polite (yields on glare), the student impolite.
        var toTeacher = new CallAcceptedEvent(call.Id,
            new PeerProfile(call.StudentId, studentProfile?.DisplayName ?? call.StudentId, Roles.Student, null, studentProfile?.Level),
            Polite: true, await iceServers.IssueAsync(teacher));
        var toStudent = new CallAcceptedEvent(call.Id,
            new PeerProfile(teacher.UserId, teacherProfile?.DisplayName ?? teacher.Name, Roles.Teacher, teacherProfile?.AvatarUrl, null),
            Polite: false, await iceServers.IssueAsync(student));
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

    /// <summary>Each side reports when its media connected; when both have, metering starts.</summary>
    public async Task MediaConnectedAsync(Caller caller, Guid callId)
    {
        var after = new List<Func<Task>>();
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var call = await LockParticipantAsync(connection, transaction, caller, callId);
            if (call.State is not ("accepted" or "connected"))
            {
                throw CallRuleException.WrongState("The call is not accepted.");
            }
            var now = time.GetUtcNow().ToDatabasePrecision();
            var column = caller.UserId == call.StudentId ? "student_media_at" : "teacher_media_at";
            await connection.ExecuteAsync($"UPDATE calls SET {column} = coalesce({column}, @now) WHERE id = @callId", new { now, callId }, transaction);
            var bothConnected = (caller.UserId == call.StudentId ? call.TeacherMediaAt : call.StudentMediaAt) is not null;
            if (call.State == "accepted" && bothConnected)
            {
                await connection.ExecuteAsync(
                    "UPDATE calls SET state = 'connected', connected_at = @now, metering_since = @now WHERE id = @callId AND state = 'accepted'",
                    new { now, callId }, transaction);
                await Deadlines.CancelAsync(connection, transaction, CallDeadlines.SetupTimeout, callId);
                await Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.Tick, callId, call.TenantId, now);
                after.Add(() => Task.WhenAll(
                    notify.User(call.TenantId, call.StudentId).CallConnected(new CallConnectedEvent(callId, now)),
                    notify.User(call.TenantId, call.TeacherId!).CallConnected(new CallConnectedEvent(callId, now))));
            }
            await transaction.CommitAsync();
        }
        await RunAsync(after);
    }

    /// <summary>
    /// Every few seconds of a connected call: picks up top-ups, pauses billing for a participant
    /// whose connection went stale (a dead node), warns, ends at zero or at the maximum duration,
    /// and sends both sides the timer. All calls due in one claim tick in one transaction: one
    /// round trip reads them (locked, in id order), their participants' last-seen times and their
    /// holds' room, and only a call where something changes writes on its own.
    /// </summary>
    internal async Task TickAsync(IReadOnlyList<Deadline> deadlines, DeadlineContext context)
    {
        var (connection, transaction) = (context.Connection, context.Transaction);
        Dictionary<Guid, CallRecord> calls;
        ILookup<Guid, (string UserId, DateTimeOffset LastSeen)> lastSeen;
        Dictionary<Guid, (long Held, long Available)> room;
        await using (var results = await connection.QueryResultsAsync(
            $"""
            SELECT {CallStore.Columns} FROM calls WHERE id = ANY(@callIds) ORDER BY id FOR UPDATE;
            {LastSeenSql};
            {CallHolds.RoomSql};
            """,
            new { callIds = deadlines.Select(d => d.SubjectId).ToArray() }, transaction))
        {
            calls = (await results.ReadAsync<CallRecord>()).ToDictionary(c => c.Id);
            lastSeen = (await results.ReadAsync<(Guid CallId, string UserId, DateTime LastSeen)>()).ToLookup(r => r.CallId, r => (r.UserId, r.LastSeen.AsUtc()));
            room = (await results.ReadAsync<(Guid CallId, long Held, long Available)>()).ToDictionary(r => r.CallId, r => (r.Held, r.Available));
        }
        var seenUpdates = new List<(Guid CallId, DateTimeOffset Seen)>();
        foreach (var deadline in deadlines)
        {
            if (calls.GetValueOrDefault(deadline.SubjectId) is { State: "connected" } call && call.TenantId == deadline.TenantId)
            {
                var seen = lastSeen[call.Id].ToDictionary(r => r.UserId, r => r.LastSeen);
                await TickCallAsync(deadline, call, seen, room.TryGetValue(call.Id, out var r) ? r : null, context, seenUpdates);
            }
        }
        if (seenUpdates.Count > 0)
        {
            // Connections are stamped every heartbeat, not every tick: written only where it moved.
            await connection.ExecuteAsync(
                "UPDATE calls c SET participants_seen_at = u.seen FROM unnest(@ids, @seen) u(id, seen) WHERE c.id = u.id",
                new { ids = seenUpdates.Select(u => u.CallId).ToArray(), seen = seenUpdates.Select(u => u.Seen).ToArray() }, transaction);
        }
    }

    private async Task TickCallAsync(
        Deadline deadline, CallRecord call, Dictionary<string, DateTimeOffset> lastSeen, (long Held, long Available)? room, DeadlineContext context,
        List<(Guid CallId, DateTimeOffset Seen)> seenUpdates)
    {
        var (connection, transaction) = (context.Connection, context.Transaction);
        var rules = (await settings.GetAsync(call.TenantId)).Calls;
        var now = time.GetUtcNow().ToDatabasePrecision();
        var after = new List<Func<Task>>();
        if (call.MeteringSince is not null)
        {
            var (gone, bothSeen) = LastSeen(call, lastSeen, now);
            if (gone is { } stale)
            {
                // Bill only up to the last heartbeat of the participant who vanished.
                await PauseLockedAsync(connection, transaction, call, stale, now, rules, after);
                call = (await CallStore.LockAsync(connection, transaction, call.TenantId, call.Id))!;
            }
            else if (bothSeen is { } seen && (call.ParticipantsSeenAt is null || seen > call.ParticipantsSeenAt.Value.AsUtc()))
            {
                seenUpdates.Add((call.Id, seen));
            }
        }
        var cap = rules.MaxCallMinutes * 60L;
        // A top-up during the call lets the hold grow; a hold at its cap or a spent wallet cannot.
        var held = room is { } r && (r.Held >= cap || r.Available == 0) ? r.Held
            : (await holds.ExtendAsync(call.TenantId, call.Id, cap, transaction))?.HeldSeconds ?? 0;
        var elapsed = call.ElapsedSeconds(now);
        var remaining = Math.Max(0, held - elapsed);
        if (remaining == 0)
        {
            await EndLockedAsync(connection, transaction, call, EndReasons.BalanceDepleted, "platform", now, after);
        }
        else if (elapsed >= rules.MaxCallMinutes * 60L)
        {
            await EndLockedAsync(connection, transaction, call, EndReasons.MaxDuration, "platform", now, after);
        }
        else
        {
            var threshold = rules.WarningMinutes.Where(m => remaining <= m * 60L && (call.WarnedMinutes is null || m < call.WarnedMinutes))
                .DefaultIfEmpty(0).Min();
            if (threshold > 0)
            {
                await connection.ExecuteAsync("UPDATE calls SET warned_minutes = @threshold WHERE id = @Id", new { threshold, call.Id }, transaction);
                after.Add(() => notify.User(call.TenantId, call.StudentId).BalanceWarning(new BalanceWarningEvent(call.Id, remaining, threshold)));
            }
            var paused = call.MeteringSince is null;
            context.Reschedule(deadline, NextTick(deadline.DueAt, now, paused ? null : remaining));
            liveParticipants.Confirm(call.Id, call.TenantId, call.StudentId, call.TeacherId!);
            after.Add(() => Task.WhenAll(
                notify.User(call.TenantId, call.StudentId).CallTimer(new CallTimerEvent(call.Id, elapsed, remaining, paused)),
                notify.User(call.TenantId, call.TeacherId!).CallTimer(new CallTimerEvent(call.Id, elapsed, rules.ShowBalanceToTeacher ? remaining : null, paused))));
        }
        foreach (var action in after)
        {
            context.AfterCommit(action);
        }
    }

    /// <summary>A participant's last hub connection closed: pause billing and start the reconnect grace.</summary>
    public async Task ParticipantLeftAsync(Caller caller)
    {
        var after = new List<Func<Task>>();
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var call = await LiveCallOfAsync(connection, transaction, caller);
            var stillHere = call is not null && await connection.ExecuteScalarAsync<bool>(
                "SELECT EXISTS (SELECT 1 FROM hub_connections WHERE tenant_id = @TenantId AND user_id = @UserId)",
                new { caller.TenantId, caller.UserId }, transaction);
            if (call is { State: "connected", MeteringSince: not null } && !stillHere)
            {
                var now = time.GetUtcNow().ToDatabasePrecision();
                await PauseLockedAsync(connection, transaction, call, now, now, (await settings.GetAsync(caller.TenantId)).Calls, after);
            }
            await transaction.CommitAsync();
        }
        await RunAsync(after);
    }

    /// <summary>A participant connected again: when both are back, billing resumes.</summary>
    public async Task ParticipantReturnedAsync(Caller caller)
    {
        var after = new List<Func<Task>>();
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var call = await LiveCallOfAsync(connection, transaction, caller);
            if (call is { State: "connected", MeteringSince: null })
            {
                var now = time.GetUtcNow().ToDatabasePrecision();
                if (LastSeen(call, await LastSeenAsync(connection, transaction, call), now).Gone is null)
                {
                    await connection.ExecuteAsync("UPDATE calls SET metering_since = @now WHERE id = @Id", new { now, call.Id }, transaction);
                    await Deadlines.CancelAsync(connection, transaction, CallDeadlines.ReconnectGrace, call.Id);
                    var peer = call.PeerOf(caller.UserId)!;
                    after.Add(() => notify.User(call.TenantId, peer).PeerConnection(new PeerConnectionEvent(call.Id, true, null)));
                }
            }
            await transaction.CommitAsync();
        }
        await RunAsync(after);
    }

    public async Task<Call> EndAsync(Caller caller, Guid callId)
    {
        var after = new List<Func<Task>>();
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var call = caller.Role == Roles.Admin
                ? await CallStore.LockAsync(connection, transaction, caller.TenantId, callId) ?? throw CallRuleException.NotFound()
                : await LockParticipantAsync(connection, transaction, caller, callId);
            if (call.State != "ended")
            {
                var reason = caller.Role == Roles.Admin && !call.IsParticipant(caller.UserId) ? EndReasons.AdminEnded
                    : call.State == "connected" ? EndReasons.Completed : EndReasons.Cancelled;
                await EndLockedAsync(connection, transaction, call, reason, caller.UserId, time.GetUtcNow().ToDatabasePrecision(), after);
            }
            await transaction.CommitAsync();
        }
        await RunAsync(after);
        return (await GetAsync(caller.TenantId, callId))!;
    }

    /// <summary>Ends the call for a deadline (setup timeout, reconnect grace, queue wait) if it is still where the deadline expects.</summary>
    internal async Task EndForDeadlineAsync(Deadline deadline, DeadlineContext context, string expectedState, string reason, bool onlyWhilePaused = false)
    {
        var call = await CallStore.LockAsync(context.Connection, context.Transaction, deadline.TenantId, deadline.SubjectId);
        if (call is null || call.State != expectedState || (onlyWhilePaused && call.MeteringSince is not null))
        {
            return;
        }
        var after = new List<Func<Task>>();
        await EndLockedAsync(context.Connection, context.Transaction, call, reason, "platform", time.GetUtcNow().ToDatabasePrecision(), after);
        after.ForEach(context.AfterCommit);
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

    /// <summary>
    /// A call's ticks keep their own phase (the last due time plus whole intervals), so calls spread
    /// over the interval stay spread, however late one sweep ran; anchored to the sweep's time instead,
    /// every call ticked in one late sweep would tick together from then on. The last tick before the
    /// balance runs out comes when it does.
    /// </summary>
    internal static DateTimeOffset NextTick(DateTimeOffset due, DateTimeOffset now, long? remainingSeconds)
    {
        if (remainingSeconds is { } remaining && remaining < CallRules.TickInterval.TotalSeconds)
        {
            return now + TimeSpan.FromSeconds(Math.Max(1, remaining));
        }
        var next = due + CallRules.TickInterval;
        return next > now ? next : now + CallRules.TickInterval - TimeSpan.FromTicks((now - due).Ticks % CallRules.TickInterval.Ticks);
    }

    private async Task EndLockedAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, string reason, string endedBy, DateTimeOffset now, List<Func<Task>> after)
    {
        var rules = (await settings.GetAsync(call.TenantId)).Calls;
        var metered = call.ElapsedSeconds(now);
        var billed = call.ConnectedAt is null ? 0 : Billing.Bill(metered, reason, rules);
        await RevokeOpenOffersAsync(connection, transaction, call, "revoked", now, after);
        await connection.ExecuteAsync(
            """
            UPDATE calls SET state = 'ended', end_reason = @reason, ended_by = @endedBy, ended_at = @now,
                             metered_seconds = @metered, metering_since = NULL, billed_seconds = @billed
            WHERE id = @Id AND state <> 'ended'
            """,
            new { reason, endedBy, now, metered, billed, call.Id }, transaction);
        long charged = 0;
        if (call.AcceptedAt is not null)
        {
            // Settlement commits with the end: one charge per call, never a second.
            var hold = billed > 0
                ? await holds.SettleAsync(call.TenantId, call.Id, billed, call.TeacherId!, transaction)
                : await holds.ReleaseAsync(call.TenantId, call.Id, transaction);
            charged = hold?.ChargedSeconds ?? 0;
            if (charged != billed)
            {
                await connection.ExecuteAsync("UPDATE calls SET billed_seconds = @charged WHERE id = @Id", new { charged, call.Id }, transaction);
            }
        }
        await connection.ExecuteAsync("DELETE FROM deadlines WHERE subject_id = @Id", new { call.Id }, transaction);
        after.Add(async () =>
        {
            liveParticipants.Forget(call.Id);
            var summary = (await GetAsync(call.TenantId, call.Id))!;
            var ended = new CallEndedEvent(call.Id, reason, charged, summary);
            await notify.User(call.TenantId, call.StudentId).CallEnded(ended);
            if (call.TeacherId is not null)
            {
                await notify.User(call.TenantId, call.TeacherId).CallEnded(ended);
            }
        });
    }

    private async Task PauseLockedAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, DateTimeOffset pausedAt, DateTimeOffset now,
        CallSettings rules, List<Func<Task>> after)
    {
        var metered = call.ElapsedSeconds(pausedAt < call.MeteringSince!.Value.AsUtc() ? call.MeteringSince.Value.AsUtc() : pausedAt);
        await connection.ExecuteAsync(
            "UPDATE calls SET metered_seconds = @metered, metering_since = NULL WHERE id = @Id", new { metered, call.Id }, transaction);
        var graceEndsAt = now.AddSeconds(rules.ReconnectGraceSeconds);
        await Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.ReconnectGrace, call.Id, call.TenantId, graceEndsAt);
        var present = await connection.QueryRowsAsync<string>(
            "SELECT DISTINCT user_id FROM hub_connections WHERE tenant_id = @TenantId AND user_id IN (@StudentId, @TeacherId)",
            new { call.TenantId, call.StudentId, call.TeacherId }, transaction);
        foreach (var user in present)
        {
            after.Add(() => notify.User(call.TenantId, user).PeerConnection(new PeerConnectionEvent(call.Id, false, graceEndsAt)));
        }
    }

    private async Task RevokeOpenOffersAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, string outcome, DateTimeOffset now, List<Func<Task>> after)
    {
        var revoked = await connection.QueryRowsAsync<(Guid Id, string TeacherId)>(
            "UPDATE call_offers SET outcome = @outcome, decided_at = @now WHERE call_id = @Id AND outcome IS NULL RETURNING id, teacher_id",
            new { outcome, now, call.Id }, transaction);
        foreach (var offer in revoked)
        {
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.OfferTimeout, offer.Id);
        }
        if (revoked.Count > 0)
        {
            after.Add(() => Task.WhenAll(revoked.Select(o =>
                notify.User(call.TenantId, o.TeacherId).OfferClosed(new OfferClosedEvent(o.Id, call.Id, outcome)))));
        }
    }

    /// <summary>
    /// When each participant of the calls @callIds was last stamped by their node's heartbeat (no
    /// row: no connection). One index lookup per participant: a join on
    /// <c>user_id IN (student_id, teacher_id)</c> was planned as a scan of every connection, 47 ms
    /// for a sweep's 64 calls among 10,000 connections.
    /// </summary>
    private const string LastSeenSql =
        """
        SELECT c.id, p.user_id, seen.at FROM calls c
        CROSS JOIN LATERAL (VALUES (c.student_id), (c.teacher_id)) p(user_id)
        CROSS JOIN LATERAL (
            SELECT max(h.last_seen_at) AS at FROM hub_connections h WHERE h.tenant_id = c.tenant_id AND h.user_id = p.user_id) seen
        WHERE c.id = ANY(@callIds) AND seen.at IS NOT NULL
        """;

    private static async Task<Dictionary<string, DateTimeOffset>> LastSeenAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call) =>
        (await connection.QueryRowsAsync<(Guid CallId, string UserId, DateTime LastSeen)>(LastSeenSql, new { callIds = new[] { call.Id } }, transaction))
        .ToDictionary(r => r.UserId, r => r.LastSeen.AsUtc());

    /// <summary>
    /// When the first participant whose connections all went quiet was last seen (null while both
    /// are there), and the moment both were last seen alive. A participant whose dead node's rows
    /// were already swept counts as last seen when the call last confirmed both, or when the
    /// current metering stretch began: never later than a confirmed heartbeat.
    /// </summary>
    private (DateTimeOffset? Gone, DateTimeOffset? BothSeen) LastSeen(CallRecord call, Dictionary<string, DateTimeOffset> seen, DateTimeOffset now)
    {
        // A participant with no row at all has just disconnected (that path pauses the call itself),
        // unless the call has not confirmed both for longer than a connection takes to count as gone:
        // then their node died and its rows were swept, and billing stops at that confirmation.
        var goneAfter = signaling.Value.ConnectionGoneAfter;
        var confirmed = Latest(call.ParticipantsSeenAt?.AsUtc(), call.MeteringSince?.AsUtc()) ?? now;
        var noRowSince = confirmed < now - goneAfter ? confirmed : now;
        DateTimeOffset? gone = null;
        foreach (var user in new[] { call.StudentId, call.TeacherId! })
        {
            var last = seen.TryGetValue(user, out var at) ? at : (DateTimeOffset?)null;
            if (last is null || last < now - goneAfter)
            {
                var since = last ?? noRowSince;
                gone = gone is null || since < gone ? since : gone;
            }
        }
        // Nobody gone: both have a fresh row.
        return (gone, gone is null ? seen.Values.Min() : null);
    }

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null || a > b ? a : b;

    private static async Task<CallRecord?> LiveCallOfAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller caller) =>
        await connection.QuerySingleRowOrDefaultAsync<CallRecord>(
            $"""
            SELECT {CallStore.Columns} FROM calls
            WHERE tenant_id = @TenantId AND state = 'connected' AND (student_id = @UserId OR teacher_id = @UserId) FOR UPDATE
            """,
            new { caller.TenantId, caller.UserId }, transaction);

    private static async Task<CallRecord> LockParticipantAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller caller, Guid callId)
    {
        var call = await CallStore.LockAsync(connection, transaction, caller.TenantId, callId);
        return call is not null && call.IsParticipant(caller.UserId) ? call : throw CallRuleException.NotFound();
    }

    private static async Task<CallRuleException> OfferErrorAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Caller teacher, Guid offerId) =>
        await connection.ExecuteScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM call_offers WHERE id = @offerId AND tenant_id = @TenantId AND teacher_id = @UserId)",
            new { offerId, teacher.TenantId, teacher.UserId }, transaction)
            ? CallRuleException.OfferClosed()
            : CallRuleException.OfferNotFound();

    private static async Task RunAsync(List<Func<Task>> actions)
    {
        foreach (var action in actions)
        {
            await action();
        }
    }
}
