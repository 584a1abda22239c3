namespace Callern.Platform.People;

/// <summary>
/// Hears that a tenant's teachers changed on this node (a profile, or a presence in Signaling), so
/// that what is cached of them (matching's snapshot of available teachers) is read afresh.
/// </summary>
public interface ITeacherChanges
{
    void TeachersChanged(Guid tenantId);
}
