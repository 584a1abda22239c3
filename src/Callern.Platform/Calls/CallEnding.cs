using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Callern.Platform.Wallets;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>
/// Ends calls, once each: by a participant or an admin, by a deadline, by metering. Settlement (one
/// charge for what both parties' confirmations cover) commits in the same transaction as the end.
/// </summary>
public sealed class CallEnding(
    NpgsqlDataSource db, CallHolds holds, SettingsStore settings, MediaConfirmations confirmations, LiveCallParticipants liveParticipants,
    CallEvents events, CallNotifier notify, TimeProvider time)
{
    public async Task<Call> EndAsync(Caller caller, Guid callId)
    {
        var after = new List<Func<Task>>();
        await using (var connection = await db.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var call = caller.Role == Roles.Admin
                ? await CallStore.LockAsync(connection, transaction, caller.TenantId, callId) ?? throw CallRuleException.NotFound()
                : await CallStore.LockParticipantAsync(connection, transaction, caller, callId);
            if (call.State != CallState.Ended)
            {
                var reason = caller.Role == Roles.Admin && !call.IsParticipant(caller.UserId) ? EndReasons.AdminEnded
                    : call.State == CallState.Connected ? EndReasons.Completed : EndReasons.Cancelled;
                await EndLockedAsync(connection, transaction, call, reason, caller.UserId, time.GetUtcNow().ToDatabasePrecision(), after);
            }
            await transaction.CommitAsync();
        }
        await RunAsync(after);
        await using var read = await db.OpenConnectionAsync();
        return (await CallStore.GetAsync(read, caller.TenantId, callId))!;
    }

    /// <summary>Ends the call for a deadline (setup timeout, queue wait) if it is still where the deadline expects.</summary>
    internal async Task EndForDeadlineAsync(Deadline deadline, DeadlineContext context, CallState expectedState, string reason)
    {
        var call = await CallStore.LockAsync(context.Connection, context.Transaction, deadline.TenantId, deadline.SubjectId);
        if (call is null || call.State != expectedState)
        {
            return;
        }
        var after = new List<Func<Task>>();
        await EndLockedAsync(context.Connection, context.Transaction, call, reason, "platform", time.GetUtcNow().ToDatabasePrecision(), after);
        after.ForEach(context.AfterCommit);
    }

    /// <summary>
    /// Ends the locked <paramref name="call"/>: revokes its open offers, bills what both parties'
    /// confirmations cover (<see cref="MeteringRules.BilledSeconds"/>), settles or releases the hold,
    /// clears its deadlines; both sides hear <c>CallEnded</c> after the commit.
    /// </summary>
    internal async Task EndLockedAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, string reason, string endedBy, DateTimeOffset now, List<Func<Task>> after)
    {
        var rules = (await settings.GetAsync(call.TenantId)).Calls;
        var metered = call.ConnectedAt is null ? 0
            : MeteringRules.BilledSeconds(call.Meter, confirmations.Merge(call, student: true), confirmations.Merge(call, student: false), now);
        var billed = call.ConnectedAt is null ? 0 : Billing.Bill(metered, reason, rules);
        await RevokeOpenOffersAsync(connection, transaction, call, "revoked", now, after);
        await EndingStore.EndAsync(connection, transaction, call.Id, reason, endedBy, now, metered, billed);
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
                await EndingStore.SetBilledAsync(connection, transaction, call.Id, charged);
            }
        }
        await Deadlines.CancelAllAsync(connection, transaction, call.Id);
        await events.EndedAsync(transaction, call, reason, endedBy, now, billed, charged);
        after.Add(async () =>
        {
            liveParticipants.Ended(call.Id);
            confirmations.Forget(call.Id);
            Call summary;
            await using (var read = await db.OpenConnectionAsync())
            {
                summary = (await CallStore.GetAsync(read, call.TenantId, call.Id))!;
            }
            var ended = new CallEndedEvent(call.Id, reason, charged, summary);
            await notify.User(call.TenantId, call.StudentId).CallEnded(ended);
            if (call.TeacherId is not null)
            {
                await notify.User(call.TenantId, call.TeacherId).CallEnded(ended);
            }
        });
    }

    /// <summary>Closes the call's open offers with <paramref name="outcome"/> and tells their teachers after the commit.</summary>
    internal async Task RevokeOpenOffersAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CallRecord call, string outcome, DateTimeOffset now, List<Func<Task>> after)
    {
        var revoked = await OfferStore.CloseOpenAsync(connection, transaction, call.Id, outcome, now);
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

    internal static async Task RunAsync(List<Func<Task>> actions)
    {
        foreach (var action in actions)
        {
            await action();
        }
    }
}
