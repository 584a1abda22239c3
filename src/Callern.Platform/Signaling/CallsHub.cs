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
public sealed partial class CallsHub(ConnectionTracker connections, PresenceService presence, Calls.CallRequests requests, Calls.CallAnswering answering,
    Calls.LiveCallParticipants liveParticipants, Calls.CallEnding ending,
    Calls.CallMetering metering, Calls.CallRejoining rejoining, Turn.IceServerIssuer iceServers, Classroom.ClassroomService classroom,
    ILogger<CallsHub> logger) : Hub<ICallernClient>
{
    public const string Path = "/hubs/calls";

    /// <summary>The connection's caller, read from its token's claims once per connection, not once per message.</summary>
    private Caller CurrentCaller => Context.Items[typeof(Caller)] as Caller ?? (Caller)(Context.Items[typeof(Caller)] = Context.User!.RequiredCaller());

    public override async Task OnConnectedAsync()
    {
        var caller = CurrentCaller;
        await connections.OpenAsync(Context, caller);
        await Groups.AddToGroupAsync(Context.ConnectionId, HubGroups.User(caller.TenantId, caller.UserId));
        if (caller.Role == Roles.Admin)
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, HubGroups.Admins(caller.TenantId));
        }
        await rejoining.AnnounceAsync(caller, Clients.Caller);
    }

    /// <summary>
    /// Billing does not depend on this running (a killed node runs none, a silent socket runs it 30 s
    /// late): media confirmations stop, and that pauses billing. If the database is away, the row
    /// stays until the sweeper removes it as stale.
    /// </summary>
    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        try
        {
            await connections.CloseAsync(Context.ConnectionId, CurrentCaller);
        }
        catch (Exception closing) when (closing is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            logger.LogWarning(closing, "Hub connection {ConnectionId} not removed; the sweeper removes it once stale", Context.ConnectionId);
        }
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
