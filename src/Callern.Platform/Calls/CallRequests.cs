using Callern.Platform.Infrastructure;
using Callern.Platform.Matching;
using Callern.Platform.People;
using Callern.Platform.Signaling;
using Callern.Platform.Tenancy;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>
/// Requests, ringing and the queue: a student's request goes in and rings the best free teachers, or
/// waits in the queue; a decline or an offer's timeout rings the next (the cascade); the queue's retry
/// rings waiting requests when a teacher frees up. Every change is a conditional update inside a
/// transaction that locks the call row; events go out only after the commit. Timers are durable
/// deadlines (<see cref="CallDeadlines"/>).
/// </summary>
public sealed class CallRequests(
    NpgsqlDataSource db, PresenceService presence, AvailableTeachers availableTeachers, SettingsStore settings, CallEnding ending, CallReads reads,
    CallEvents events, CallNotifier notify, TimeProvider time)
{
    public static readonly TimeSpan QueueRetry = TimeSpan.FromSeconds(2);
    private const int OfferSpares = 10;

    /// <summary>
    /// A student asks for a call. One transaction of three round trips when the first teacher tried
    /// is free, since a request's time to ring is the product's first impression: one reads what
    /// ranking needs of the student and inserts the call, one offers it (see <see cref="RingingStore.OfferAsync"/>),
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
            var (known, inserted) = await RingingStore.InsertAsync(connection, transaction, availableTeachers.StudentSql, student, request, Guid.CreateVersion7(now), now);
            call = inserted ?? throw ((request.Language ?? known.Profile?.TargetLanguage) is null || (request.Level ?? known.Profile?.Level) is null
                ? CallRuleException.Invalid("Name the language and level, or set them on the student's profile.")
                : CallRuleException.NoMinutes());
            await events.RequestedAsync(transaction, call);
            await RingOrQueueAsync(connection, transaction, call, known.Profile, known.Facts, [], rules, now, after);
            await transaction.CommitAsync();
        }
        await CallEnding.RunAsync(after);
        return (await reads.GetAsync(student.TenantId, call.Id))!;
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
            var (call, offers) = await RingingStore.LockWithOffersAsync(connection, transaction, tenantId, callId);
            if (call is null || call.State is not (CallState.Queued or CallState.Ringing) || offers.Any(o => o.Open))
            {
                return;
            }
            var (student, facts) = await availableTeachers.ReadStudentAsync(connection, transaction, tenantId, call.StudentId);
            await RingOrQueueAsync(connection, transaction, call, student, facts, offers.Select(o => o.TeacherId).ToList(), rules,
                time.GetUtcNow().ToDatabasePrecision(), after);
            await transaction.CommitAsync();
        }
        await CallEnding.RunAsync(after);
    }

    /// <summary>Offers the school's waiting requests to free teachers, oldest request first.</summary>
    public async Task DispatchQueuedAsync(Guid tenantId)
    {
        List<Guid> queued;
        await using (var connection = await db.OpenConnectionAsync())
        {
            queued = await RingingStore.QueuedAsync(connection, tenantId);
        }
        foreach (var callId in queued)
        {
            await DispatchAsync(tenantId, callId);
        }
    }

    /// <summary>An offer ran out: auto-decline, set a teacher who keeps missing offers away, ring the next.</summary>
    internal async Task OfferTimedOutAsync(Deadline deadline, DeadlineContext context)
    {
        // Read before the offer is locked, as metering does: a settings read may need a pooled connection of its own.
        var rules = (await settings.GetAsync(deadline.TenantId)).Calls;
        var offer = await OfferStore.TimeOutAsync(context.Connection, context.Transaction, deadline.SubjectId, time.GetUtcNow());
        if (offer.TeacherId is null)
        {
            return;
        }
        var recent = await OfferStore.RecentOutcomesAsync(context.Connection, context.Transaction, deadline.TenantId, offer.TeacherId, rules.MissedOffersBeforeAway);
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
                // Spares: a teacher another request is offering at this moment is skipped for the next
                // best. When concurrent requests took them all, the next best after them, twice as many
                // each time, until the call rings or nobody is left: a request waits in the queue only
                // when no matching teacher is free (every teacher tried stays claimed, so this ends).
                for (var batch = wanted + OfferSpares; offered.Count < wanted; batch *= 2)
                {
                    var ranked = Ranking.Rank(request, pool.For(facts, skip), rules.Ranking, now, batch);
                    if (ranked.Count == 0)
                    {
                        break;
                    }
                    await OfferAsync(connection, transaction, call, ranked, wanted, now, expiresAt, pool, offered);
                }
                if (offered.Count > 0 || read)
                {
                    break;
                }
            }
        }
        var (tenantId, callId) = (call.TenantId, call.Id);
        if (offered.Count > 0)
        {
            await events.RingingAsync(transaction, call, offered, expiresAt);
            var incoming = offered.Select(o => (o.TeacherId, Event: new IncomingCallEvent(
                o.OfferId, callId, expiresAt, CallRules.Preview(student, call.StudentId), call.Language, call.Level, call.Specialization))).ToList();
            after.Add(() => Task.WhenAll(incoming.Select(i => notify.User(tenantId, i.TeacherId).IncomingCall(i.Event))
                .Append(notify.User(tenantId, call.StudentId).CallRinging(new CallRingingEvent(callId, offered.Count)))));
        }
        else
        {
            var giveUpAt = call.RequestedAt.AsUtc().AddSeconds(rules.MaxQueueWaitSeconds);
            if (call.State != CallState.Queued)
            {
                await RingingStore.SetQueuedAsync(connection, transaction, callId);
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
            if (await RingingStore.OfferAsync(connection, transaction, call, offerId, candidate, now, expiresAt))
            {
                offered.Add((offerId, candidate.TeacherId));
            }
        }
    }
}
