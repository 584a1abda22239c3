namespace Callern.Platform.Signaling;

/// <summary>
/// The SignalR groups events are sent to. Every connection joins its user's group when it opens,
/// so sending to a user is a lookup of that group (the in-memory lifetime manager's <c>Clients.User</c>
/// compares every open connection's user id on each send). Names carry the tenant, so two schools'
/// users with the same id never share messages. Clients cannot join groups themselves.
/// </summary>
public static class HubGroups
{
    /// <summary>Every connection of one user of one tenant.</summary>
    public static string User(Guid tenantId, string userId) => $"user:{tenantId:N}:{userId}";

    /// <summary>A tenant's admin connections: presence changes go there.</summary>
    public static string Admins(Guid tenantId) => $"admins:{tenantId:N}";
}
