using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Callern.Platform.Wallets;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>
/// A teacher answers an offer: accepting takes the call (the hold on the student's minutes, the
/// setup timeout, both sides told), declining rings the next teacher.
/// </summary>
public sealed class CallAnswering(
    NpgsqlDataSource db, CallHolds holds, SettingsStore settings, CallRequests requests, CallEnding ending, CallAcceptedEvents acceptedEvents,
    CallEvents events, CallNotifier notify, TimeProvider time)
{
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
            var offerCall = await AnsweringStore.OfferCallAsync(connection, transaction, teacher, offerId) ?? throw CallRuleException.OfferNotFound();
            var locked = await CallStore.LockAsync(connection, transaction, teacher.TenantId, offerCall);
            var callId = await AnsweringStore.AcceptOfferAsync(connection, transaction, offerId, now);
            if (callId is null || locked is not { State: CallState.Ringing })
            {
                throw CallRuleException.OfferClosed();
            }
            await AnsweringStore.AcceptCallAsync(connection, transaction, callId.Value, teacher.UserId, now);
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.OfferTimeout, offerId);
            await ending.RevokeOpenOffersAsync(connection, transaction, locked, "revoked", now, after);
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.QueueTimeout, locked.Id);
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.QueueRetry, locked.Id);
            call = (await CallStore.LockAsync(connection, transaction, teacher.TenantId, callId.Value))!;
            await events.AcceptedAsync(transaction, call, teacher.UserId, now);
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
            var declined = await AnsweringStore.DeclineAsync(connection, transaction, teacher, offerId, time.GetUtcNow());
            callId = declined ?? throw (await AnsweringStore.OfferExistsAsync(connection, transaction, teacher, offerId)
                ? CallRuleException.OfferClosed()
                : CallRuleException.OfferNotFound());
            await Deadlines.CancelAsync(connection, transaction, CallDeadlines.OfferTimeout, offerId);
            await transaction.CommitAsync();
        }
        await requests.DispatchAsync(teacher.TenantId, callId);
    }
}
