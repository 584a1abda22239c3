using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;

namespace Callern.Platform.Signaling;

/// <summary>
/// The realtime hub at /hubs/calls. Thin by design: it knows who calls (the JWT, checked by the
/// same handler as REST), tracks the connection, and hands the work to the feature services.
/// Rate limits and message size are enforced before any method runs (<see cref="HubRateLimitFilter"/>).
/// </summary>
[Authorize(Policy = Policies.TenantUser)]
public sealed partial class CallsHub(ConnectionTracker connections, PresenceService presence, Calls.CallService calls, Turn.IceServerIssuer iceServers,
    Classroom.ClassroomService classroom) : Hub<ICallernClient>
{
    public const string Path = "/hubs/calls";

    /// <summary>The connection's caller, read from its token's claims once per connection, not once per message.</summary>
    private Caller CurrentCaller => Context.Items[typeof(Caller)] as Caller ?? (Caller)(Context.Items[typeof(Caller)] = Context.User!.RequiredCaller());

    public override async Task OnConnectedAsync()
    {
        var caller = CurrentCaller;
        await connections.OpenAsync(Context.ConnectionId, caller);
        await Groups.AddToGroupAsync(Context.ConnectionId, HubGroups.User(caller.TenantId, caller.UserId));
        if (caller.Role == Roles.Admin)
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, HubGroups.Admins(caller.TenantId));
        }
        await calls.ParticipantReturnedAsync(caller);
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        var caller = CurrentCaller;
        await connections.CloseAsync(Context.ConnectionId, caller);
        await calls.ParticipantLeftAsync(caller);
    }

    /// <summary>A teacher sets their own status; the answer is the presence every admin now sees.</summary>
    public Task<TeacherPresence> SetAvailability(PresenceStatus status)
    {
        var caller = CurrentCaller;
        if (caller.Role != Roles.Teacher)
        {
            throw HubErrors.Create(HubErrors.Forbidden, "Only teachers have an availability.");
        }
        if (!Enum.IsDefined(status))
        {
            throw HubErrors.Create(HubErrors.InvalidArgument, "status is available, away or offline.");
        }
        return presence.SetAsync(caller, status);
    }
}
