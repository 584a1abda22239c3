using Callern.Platform.Signaling;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.SignalR;

namespace Callern.Platform.Calls;

/// <summary>Sends call events to users (every connection of tenant + sub, on any node through the backplane; see <see cref="HubGroups"/>).</summary>
public sealed class CallNotifier(IHubContext<CallsHub, ICallernClient> hub)
{
    public ICallernClient User(Guid tenantId, string userId) => hub.Clients.Group(HubGroups.User(tenantId, userId));

    /// <summary>Every connection of each of these users, in one send.</summary>
    public ICallernClient Users(Guid tenantId, params string[] userIds) =>
        hub.Clients.Groups(userIds.Select(id => HubGroups.User(tenantId, id)).ToList());
}
