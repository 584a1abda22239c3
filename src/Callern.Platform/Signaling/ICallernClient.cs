namespace Callern.Platform.Signaling;

/// <summary>The events the platform sends to hub clients (method names as on the wire, camelCase in JavaScript).</summary>
public partial interface ICallernClient
{
    /// <summary>
    /// A teacher's status changed: to the tenant's admins, and to every connection of that teacher
    /// (so a second tab stays in step).
    /// </summary>
    Task PresenceChanged(TeacherPresence presence);
}
