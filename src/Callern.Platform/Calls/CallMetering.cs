using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Callern.Platform.Wallets;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>
/// Metering: billing follows media that both parties confirm (<see cref="MeteringRules"/>). A
/// confirmation is kept in this node's memory; the call row changes only when a party's run of
/// confirmations starts or lapses, and on the call's tick (timer, warnings, depletion).
/// </summary>
public sealed class CallMetering(
    NpgsqlDataSource db, CallHolds holds, SettingsStore settings, MediaConfirmations confirmations, LiveCallParticipants liveParticipants,
    CallEnding ending, CallEvents events, CallNotifier notify, Microsoft.Extensions.Options.IOptions<Signaling.SignalingOptions> signaling, TimeProvider time,
    ILogger<CallMetering> logger)
{
    /// <summary>How old a confirmation stamp in the database may be: its node writes them once per heartbeat.</summary>
    private TimeSpan DatabaseLag => TimeSpan.FromSeconds(signaling.Value.HeartbeatSeconds);

    /// <summary>The hub's <c>ConfirmMedia</c>: checks it, records it in memory, and writes the call only when a run started or lapsed.</summary>
    public async Task<MediaConfirmationResult> ConfirmAsync(Caller caller, Guid callId, MediaConfirmation confirmation)
    {
        // As the database keeps it, so that memory and database compare equal.
        var now = time.GetUtcNow().ToDatabasePrecision();
        if (confirmation is null || confirmation.InboundBytes < 0)
        {
            throw CallRuleException.Invalid("A confirmation has the inbound media bytes (0 or more) and the time they were sampled.");
        }
        if (confirmation.SampledAt > now + MediaConfirmationRules.ClockSlack)
        {
            throw new CallRuleException("confirmation_in_future", "The confirmation was sampled after the platform's now; correct the clock with serverTime.",
                StatusCodes.Status400BadRequest);
        }
        var (studentId, _) = await liveParticipants.ParticipantsAsync(caller, callId);
        if (confirmation.SampledAt < now - MediaConfirmationRules.StaleAfter)
        {
            throw new CallRuleException("confirmation_stale", "The confirmation was sampled too long ago (held back by a reconnect); it does not count.",
                StatusCodes.Status400BadRequest);
        }
        // The moment the media was seen, not the moment the message arrived (a confirmation held up
        // on the way would otherwise stretch the billed time), and never later than now.
        var sampledAt = confirmation.SampledAt.ToDatabasePrecision();
        var outcome = confirmations.Record(caller.TenantId, callId, caller.UserId, caller.UserId == studentId, confirmation.InboundBytes,
            sampledAt < now ? sampledAt : now, now);
        if (outcome.Transition)
        {
            await EvaluateOrRetryAsync(caller.TenantId, callId);
        }
        return new MediaConfirmationResult(time.GetUtcNow(), outcome.MediaFlowing, confirmations.IsBilling(callId));
    }

    /// <summary>
    /// Brings the call's billing up to date with what both parties confirmed; on a database error the
    /// transition stays in memory and the watchdog writes it when the database is back.
    /// </summary>
    internal async Task EvaluateOrRetryAsync(Guid tenantId, Guid callId)
    {
        try
        {
            await EvaluateAsync(tenantId, callId);
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Metering of call {CallId} not written; retrying", callId);
            confirmations.Retry(callId);
        }
    }

    private async Task EvaluateAsync(Guid tenantId, Guid callId)
    {
        // Read before the call is locked: a settings read needs a pooled connection of its own, which
        // must never be waited for while holding a lock others queue behind with theirs.
        var rules = (await settings.GetAsync(tenantId)).Calls;
        var after = new List<Func<Task>>();
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            if (await CallStore.LockAsync(connection, transaction, tenantId, callId) is { IsLive: true } call)
            {
                await ApplyLockedAsync(connection, transaction, call, rules, time.GetUtcNow().ToDatabasePrecision(), after);
            }
            await transaction.CommitAsync();
        }
        await CallEnding.RunAsync(after);
    }

    /// <summary>
    /// Applies <see cref="MeteringRules.Next"/> to the locked call and writes what changed: the
    /// parties' runs as this node knows them, the meter, the connection; then the deadlines and events
    /// the change calls for. Returns the call as it now stands (ended: null).
    /// </summary>
    private async Task<CallRecord?> ApplyLockedAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, CallSettings rules, DateTimeOffset now, List<Func<Task>> after,
        bool ticking = false)
    {
        var student = confirmations.Merge(call, student: true);
        var teacher = confirmations.Merge(call, student: false);
        var (change, meter) = MeteringRules.Next(call.State == CallState.Connected, call.Meter, student, teacher, now,
            TimeSpan.FromSeconds(rules.ReconnectGraceSeconds), DatabaseLag);
        var updated = call with
        {
            State = change == MeterChange.Connected ? CallState.Connected : call.State,
            ConnectedAt = change == MeterChange.Connected ? now.UtcDateTime : call.ConnectedAt,
            MeteredSeconds = meter.MeteredSeconds,
            MeteringSince = meter.MeteringSince?.UtcDateTime,
            PausedAt = meter.PausedAt?.UtcDateTime,
            StudentFlowingSince = student.Live ? student.FlowingSince?.UtcDateTime : call.StudentFlowingSince,
            StudentConfirmedAt = student.Live ? student.ConfirmedAt?.UtcDateTime : call.StudentConfirmedAt,
            TeacherFlowingSince = teacher.Live ? teacher.FlowingSince?.UtcDateTime : call.TeacherFlowingSince,
            TeacherConfirmedAt = teacher.Live ? teacher.ConfirmedAt?.UtcDateTime : call.TeacherConfirmedAt,
        };
        confirmations.SetBilling(call.Id, meter.MeteringSince is not null);
        // Newer stamps alone are not worth a statement per call: FlushStampsAsync writes them, many in one, within a heartbeat.
        if (updated with { StudentConfirmedAt = call.StudentConfirmedAt, TeacherConfirmedAt = call.TeacherConfirmedAt } != call)
        {
            await MeteringStore.UpdateAsync(connection, transaction, updated);
        }
        var (tenantId, callId, participants) = (call.TenantId, call.Id, new[] { call.StudentId, call.TeacherId! });
        switch (change)
        {
            case MeterChange.Connected:
                await Deadlines.CancelAsync(connection, transaction, CallDeadlines.SetupTimeout, callId);
                await Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.Tick, callId, tenantId, now);
                await events.ConnectedAsync(transaction, updated, now);
                after.Add(() => notify.Users(tenantId, participants).CallConnected(new CallConnectedEvent(callId, now)));
                break;
            case MeterChange.Paused:
                var graceEndsAt = meter.PausedAt!.Value.AddSeconds(rules.ReconnectGraceSeconds);
                await Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.ReconnectGrace, callId, tenantId, graceEndsAt);
                await events.PausedAsync(transaction, updated, meter.PausedAt.Value, graceEndsAt);
                await TickNowAsync();
                after.Add(() => notify.Users(tenantId, participants).PeerConnection(new PeerConnectionEvent(callId, false, graceEndsAt)));
                break;
            case MeterChange.Resumed:
                await Deadlines.CancelAsync(connection, transaction, CallDeadlines.ReconnectGrace, callId);
                await events.ResumedAsync(transaction, updated, now);
                await TickNowAsync();
                after.Add(() => notify.Users(tenantId, participants).PeerConnection(new PeerConnectionEvent(callId, true, null)));
                break;
            case MeterChange.ConnectionLost:
                await ending.EndLockedAsync(connection, transaction, updated, EndReasons.ConnectionLost, "platform", now, after);
                return null;
        }
        return updated;

        // Both sides' timers stop or go on at once (the SDKs count between two ticks); a tick does it itself.
        Task TickNowAsync() => ticking ? Task.CompletedTask : Deadlines.ScheduleAsync(connection, transaction, CallDeadlines.Tick, callId, tenantId, now);
    }

    /// <summary>The reconnect grace ran out: the call ends <c>connection_lost</c> unless media was confirmed again.</summary>
    internal async Task GraceEndedAsync(Deadline deadline, DeadlineContext context)
    {
        var rules = (await settings.GetAsync(deadline.TenantId)).Calls;
        if (await CallStore.LockAsync(context.Connection, context.Transaction, deadline.TenantId, deadline.SubjectId) is { State: CallState.Connected } call)
        {
            var after = new List<Func<Task>>();
            await ApplyLockedAsync(context.Connection, context.Transaction, call, rules, time.GetUtcNow().ToDatabasePrecision(), after);
            after.ForEach(context.AfterCommit);
        }
    }

    /// <summary>
    /// Every few seconds of a connected call: brings billing up to date (a party whose confirmations
    /// lapsed on a node that died), picks up top-ups, warns, ends at zero or at the maximum duration,
    /// and sends both sides the timer. All calls due in one claim tick in one transaction: one round
    /// trip reads them (locked, in id order) and their holds' room, and only a call where something
    /// changes writes on its own.
    /// </summary>
    internal async Task TickAsync(IReadOnlyList<Deadline> deadlines, DeadlineContext context)
    {
        var (connection, transaction) = (context.Connection, context.Transaction);
        // The schools' settings before the calls are locked (see EvaluateAsync).
        foreach (var tenantId in deadlines.Select(d => d.TenantId).Distinct())
        {
            await settings.GetAsync(tenantId);
        }
        var (calls, room) = await MeteringStore.LockForTickAsync(connection, transaction, deadlines);
        foreach (var deadline in deadlines)
        {
            if (calls.GetValueOrDefault(deadline.SubjectId) is { State: CallState.Connected } call && call.TenantId == deadline.TenantId)
            {
                await TickCallAsync(deadline, call, room.TryGetValue(call.Id, out var r) ? r : null, context);
            }
        }
    }

    private async Task TickCallAsync(Deadline deadline, CallRecord call, (long Held, long Available)? room, DeadlineContext context)
    {
        var (connection, transaction) = (context.Connection, context.Transaction);
        var rules = (await settings.GetAsync(call.TenantId)).Calls;
        var now = time.GetUtcNow().ToDatabasePrecision();
        var after = new List<Func<Task>>();
        if (await ApplyLockedAsync(connection, transaction, call, rules, now, after, ticking: true) is not { } current)
        {
            after.ForEach(context.AfterCommit);
            return;
        }
        var cap = rules.MaxCallMinutes * 60L;
        // A top-up during the call lets the hold grow; a hold at its cap or a spent wallet cannot.
        var held = room is { } r && (r.Held >= cap || r.Available == 0) ? r.Held
            : (await holds.ExtendAsync(current.TenantId, current.Id, cap, transaction))?.HeldSeconds ?? 0;
        var (student, teacher) = (confirmations.Merge(current, student: true), confirmations.Merge(current, student: false));
        var elapsed = MeteringRules.BilledSeconds(current.Meter, student, teacher, now);
        var remaining = Math.Max(0, held - elapsed);
        if (remaining == 0)
        {
            await ending.EndLockedAsync(connection, transaction, current, EndReasons.BalanceDepleted, "platform", now, after);
        }
        else if (elapsed >= cap)
        {
            await ending.EndLockedAsync(connection, transaction, current, EndReasons.MaxDuration, "platform", now, after);
        }
        else
        {
            var unwarned = rules.WarningMinutes.Where(m => current.WarnedMinutes is null || m < current.WarnedMinutes).ToList();
            var threshold = unwarned.Where(m => remaining <= m * 60L).DefaultIfEmpty(0).Min();
            if (threshold > 0)
            {
                await MeteringStore.SetWarnedAsync(connection, transaction, current.Id, threshold);
                after.Add(() => notify.User(current.TenantId, current.StudentId).BalanceWarning(new BalanceWarningEvent(current.Id, remaining, threshold)));
            }
            var paused = current.MeteringSince is null;
            // While billing: the next moment something happens on its own (a warning, depletion, the
            // maximum duration, a party known only from the database lapsing).
            long? untilNext = paused ? null
                : unwarned.Where(m => m < threshold || threshold == 0).Select(m => remaining - m * 60L).Where(s => s > 0)
                    .Append(remaining).Append(cap - elapsed).Concat(SecondsUntilLapse(student, now)).Concat(SecondsUntilLapse(teacher, now)).Min();
            context.Reschedule(deadline, NextTick(deadline.DueAt, now, untilNext));
            liveParticipants.Confirm(current.Id, current.TenantId, current.StudentId, current.TeacherId!);
            after.Add(() => Task.WhenAll(
                notify.User(current.TenantId, current.StudentId).CallTimer(new CallTimerEvent(current.Id, elapsed, remaining, paused)),
                notify.User(current.TenantId, current.TeacherId!).CallTimer(
                    new CallTimerEvent(current.Id, elapsed, rules.ShowBalanceToTeacher ? remaining : null, paused))));
        }
        after.ForEach(context.AfterCommit);
    }

    /// <summary>
    /// A party this node knows only from the database (the node restarted, or the party's node
    /// died) stops counting as flowing a lag after its stamp (<see cref="MeteringRules.FlowingUntil"/>),
    /// and no confirmation arrives here to notice: the tick comes just after that moment, so that
    /// billing pauses and the reconnect grace runs out on time, not up to a tick interval late.
    /// Nothing for a party this node hears itself: its watchdog notices the lapse.
    /// </summary>
    private IEnumerable<long> SecondsUntilLapse(PartyMedia party, DateTimeOffset now) =>
        !party.Live && MeteringRules.FlowingUntil(party, DatabaseLag) is { } until && until >= now
            ? [(long)Math.Ceiling((until - now).TotalSeconds) + 1]
            : [];

    /// <summary>
    /// A call's ticks keep their own phase (the last due time plus whole intervals), so calls spread
    /// over the interval stay spread, however late one sweep ran; anchored to the sweep's time instead,
    /// every call ticked in one late sweep would tick together from then on. A tick due sooner for
    /// what happens on its own in <paramref name="secondsUntilNext"/> (a warning, depletion) comes then.
    /// </summary>
    internal static DateTimeOffset NextTick(DateTimeOffset due, DateTimeOffset now, long? secondsUntilNext)
    {
        if (secondsUntilNext is { } seconds && seconds < CallRules.TickInterval.TotalSeconds)
        {
            return now + TimeSpan.FromSeconds(Math.Max(1, seconds));
        }
        var next = due + CallRules.TickInterval;
        return next > now ? next : now + CallRules.TickInterval - TimeSpan.FromTicks((now - due).Ticks % CallRules.TickInterval.Ticks);
    }

    /// <summary>
    /// Ends the runs of confirmations that stopped arriving on this node and writes every start and
    /// lapse the database has not heard of yet (it may have been away).
    /// </summary>
    public async Task CatchUpAsync()
    {
        confirmations.MarkLapses();
        foreach (var (tenantId, callId) in confirmations.TakeTransitions())
        {
            await EvaluateOrRetryAsync(tenantId, callId);
        }
    }

    /// <summary>
    /// Writes, in one statement, this node's latest confirmations that have waited long enough that
    /// the database's stamp of each party stays within a heartbeat of its latest confirmation (the
    /// calls locked in id order, as the tick locks them); a write that fails is taken again next time.
    /// </summary>
    public async Task FlushStampsAsync()
    {
        // A stamp written now is up to an interval old; the next confirmation comes up to an interval
        // later and waits this long plus up to a watchdog period: the stamp in the database is then
        // never more than a heartbeat behind.
        var wait = DatabaseLag - 2 * MediaConfirmationRules.Interval - MediaConfirmationWatchdog.Period;
        var stamps = confirmations.TakeStamps(time.GetUtcNow() - wait);
        if (stamps.Count == 0)
        {
            return;
        }
        try
        {
            await using var connection = await db.OpenConnectionAsync();
            await MeteringStore.StampAsync(connection, stamps);
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Media confirmations of {Count} participants not written; retrying", stamps.Count);
            confirmations.RetryStamps(stamps.Select(s => s.CallId));
        }
    }
}

/// <summary>
/// Every second, <see cref="CallMetering.CatchUpAsync"/>, then writes the latest confirmations that
/// are due (<see cref="CallMetering.FlushStampsAsync"/>).
/// Nothing here waits for a socket to close: a silent connection stops confirming, and that alone pauses billing.
/// </summary>
public sealed class MediaConfirmationWatchdog(CallMetering metering, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await metering.CatchUpAsync();
            await metering.FlushStampsAsync();
        }
    }
}
