using Callern.Platform.Calls;
using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Callern.Platform.Turn;

namespace Callern.Platform.Signaling;

/// <summary>The hub methods of calls: authenticate, check the caller's role and part, delegate to the calls feature's services.</summary>
public sealed partial class CallsHub
{
    /// <summary>A student asks for a teacher; the answer is the call (queued or ringing).</summary>
    public Task<Call> RequestCall(CallRequest request) => Guard(Roles.Student, caller =>
    {
        var errors = request.Validate(new FieldErrors());
        return errors.IsEmpty ? requests.RequestAsync(caller, request) : throw CallRuleException.Invalid(Describe(errors));
    });

    /// <summary>The student withdraws a request, or a participant ends the call.</summary>
    public Task<Call> EndCall(Guid callId) => Guard(null, caller => ending.EndAsync(caller, callId));

    public Task<CallAcceptedEvent> AcceptOffer(Guid offerId) => Guard(Roles.Teacher, caller => answering.AcceptAsync(caller, offerId));

    public Task DeclineOffer(Guid offerId) => Guard(Roles.Teacher, async caller =>
    {
        await answering.DeclineAsync(caller, offerId);
        return true;
    });

    /// <summary>Relays offer/answer/candidate to the other participant of the call, and to nobody else.</summary>
    public Task SendSignal(Guid callId, SignalMessage signal) => Guard(null, async caller =>
    {
        if (signal is null || string.IsNullOrEmpty(signal.Type) || signal.Type.Length > 32 || signal.Payload is null
            || signal.Payload.Length > CallRules.MaxSignalPayloadChars)
        {
            throw CallRuleException.Invalid($"A signal has a type (≤ 32 characters) and a payload of at most {CallRules.MaxSignalPayloadChars} characters.");
        }
        var peer = await liveParticipants.PeerAsync(caller, callId);
        await Clients.Group(HubGroups.User(caller.TenantId, peer)).Signal(new SignalEvent(callId, caller.UserId, signal));
        return true;
    });

    /// <summary>
    /// Each side confirms, every 2 s, the media it receives, with its latest stats sample; a second is
    /// billed only when both sides' confirmations cover it (docs/calls.md, "Metering").
    /// </summary>
    public Task<MediaConfirmationResult> ConfirmMedia(Guid callId, MediaConfirmation confirmation) => Guard(null, async caller =>
    {
        if (confirmation?.Stats is { } stats)
        {
            Classroom.ClassroomService.CheckStats(stats); // before anything is recorded: bad input changes nothing
        }
        var result = await metering.ConfirmAsync(caller, callId, confirmation!);
        if (confirmation?.Stats is { } checkedStats)
        {
            classroom.KeepStats(caller, callId, checkedStats);
        }
        return result;
    });

    /// <summary>After a reload or a reconnect elsewhere: the live call again, with fresh ICE servers; the peer is told to renegotiate.</summary>
    public Task<CallAcceptedEvent> RejoinCall(Guid callId) => Guard(null, caller => rejoining.RejoinAsync(caller, callId));

    /// <summary>Fresh TURN credentials for an ICE restart, for a participant of a live call.</summary>
    public Task<IceServersResponse> RefreshIceServers(Guid callId) => Guard(null, async caller =>
    {
        await liveParticipants.PeerAsync(caller, callId);
        return await iceServers.IssueAsync(caller);
    });

    private async Task<T> Guard<T>(string? role, Func<Caller, Task<T>> action)
    {
        var caller = CurrentCaller;
        if (role is not null && caller.Role != role)
        {
            throw HubErrors.Create(HubErrors.Forbidden, $"Only a {role} may do this.");
        }
        try
        {
            return await action(caller);
        }
        catch (CallRuleException rule)
        {
            throw HubErrors.Create(rule.Code, rule.Message);
        }
    }

    private static string Describe(FieldErrors errors) =>
        string.Join(" ", errors.ToDictionary().Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"));
}
