using Callern.Platform.Infrastructure;
using Callern.Platform.People;
using Callern.Platform.Signaling;
using Callern.Platform.Tenancy;
using Callern.Platform.Turn;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>What each side of an accepted call is told: the peer, fresh ICE servers, its negotiation role, the platform's clock.</summary>
public sealed class CallAcceptedEvents(PeopleStore people, IceServerIssuer iceServers, TimeProvider time)
{
    /// <summary>
    /// Perfect negotiation: the teacher is polite (yields on glare), the student impolite (makes the
    /// first offer). <paramref name="teacherName"/> stands in for a teacher without a profile.
    /// </summary>
    internal async Task<CallAcceptedEvent> ForAsync(CallRecord call, string userId, string? teacherName = null)
    {
        var state = CallStore.ParseState(call.State);
        if (userId == call.TeacherId)
        {
            var student = await people.FindStudentAsync(call.TenantId, call.StudentId);
            return new CallAcceptedEvent(call.Id,
                new PeerProfile(call.StudentId, student?.DisplayName ?? call.StudentId, Roles.Student, null, student?.Level),
                Polite: true, await iceServers.IssueAsync(new Caller(call.TenantId, userId, Roles.Teacher, "")), state, time.GetUtcNow());
        }
        var teacher = await people.FindTeacherAsync(call.TenantId, call.TeacherId!);
        return new CallAcceptedEvent(call.Id,
            new PeerProfile(call.TeacherId!, teacher?.DisplayName ?? teacherName ?? call.TeacherId!, Roles.Teacher, teacher?.AvatarUrl, null),
            Polite: false, await iceServers.IssueAsync(new Caller(call.TenantId, userId, Roles.Student, "")), state, time.GetUtcNow());
    }
}

/// <summary>
/// Rejoin after a reload, a second tab, a crash of the node the participant was on, or a reconnect
/// to another node: the participant finds its live call (REST or, at connect, the hub's
/// <c>LiveCall</c>), rejoins it with fresh ICE servers, and the peer is told to start a new peer
/// connection. Billing is not touched: it resumes when both parties confirm media again.
/// </summary>
public sealed class CallRejoining(NpgsqlDataSource db, CallAcceptedEvents acceptedEvents, CallNotifier notify)
{
    /// <summary>The caller's accepted or connected call, if any.</summary>
    public async Task<Call?> LiveCallAsync(Caller caller)
    {
        await using var connection = await db.OpenConnectionAsync();
        var call = await LiveCallRecordAsync(connection, caller);
        return call is null ? null : await CallStore.GetAsync(connection, caller.TenantId, call.Id);
    }

    /// <summary>Tells a connection that just opened about its user's live call, so that a reloaded app rejoins it.</summary>
    public async Task AnnounceAsync(Caller caller, ICallernClient connection)
    {
        CallRecord? call;
        await using (var read = await db.OpenConnectionAsync())
        {
            call = await LiveCallRecordAsync(read, caller);
        }
        if (call is not null)
        {
            await connection.LiveCall(new LiveCallEvent(call.Id, CallStore.ParseState(call.State)));
        }
    }

    public async Task<CallAcceptedEvent> RejoinAsync(Caller caller, Guid callId)
    {
        CallRecord call;
        await using (var connection = await db.OpenConnectionAsync())
        {
            call = await CallStore.FindAsync(connection, caller.TenantId, callId) is { } found && found.IsParticipant(caller.UserId)
                ? found
                : throw CallRuleException.NotFound();
        }
        if (call.State == "ended")
        {
            throw CallRuleException.CallEnded();
        }
        if (call.State is not ("accepted" or "connected"))
        {
            throw CallRuleException.WrongState("Only an accepted or connected call can be rejoined.");
        }
        var accepted = await acceptedEvents.ForAsync(call, caller.UserId);
        await notify.User(caller.TenantId, call.PeerOf(caller.UserId)!).PeerRejoined(new PeerRejoinedEvent(call.Id, caller.UserId));
        return accepted;
    }

    private static Task<CallRecord?> LiveCallRecordAsync(NpgsqlConnection connection, Caller caller) =>
        connection.QuerySingleRowOrDefaultAsync<CallRecord>(
            $"""
            SELECT {CallStore.Columns} FROM calls
            WHERE tenant_id = @TenantId AND state IN ('accepted', 'connected') AND (student_id = @UserId OR teacher_id = @UserId)
            ORDER BY accepted_at DESC LIMIT 1
            """,
            new { caller.TenantId, caller.UserId });
}
