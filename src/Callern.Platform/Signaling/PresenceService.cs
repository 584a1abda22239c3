using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.SignalR;

namespace Callern.Platform.Signaling;

/// <summary>Presence rules over the store, and the pushes that follow each change.</summary>
public sealed class PresenceService(
    PresenceStore store, SettingsStore settings, IEnumerable<People.ITeacherChanges> teacherChanges, IHubContext<CallsHub, ICallernClient> hub, TimeProvider time)
{
    public async Task<TeacherPresence> SetAsync(Caller teacher, PresenceStatus status)
    {
        var now = time.GetUtcNow();
        var grace = (await settings.GetAsync(teacher.TenantId)).PresenceGraceSeconds!.Value;
        var presence = await store.SetAsync(teacher.TenantId, teacher.UserId, status, now, now.AddSeconds(grace));
        await NotifyAsync(teacher.TenantId, presence);
        return presence;
    }

    /// <summary>
    /// To the tenant's admins and to the teacher's own connections (<see cref="HubGroups"/>), so another
    /// school's teacher with the same id hears nothing.
    /// </summary>
    public Task NotifyAsync(Guid tenantId, TeacherPresence presence)
    {
        foreach (var changes in teacherChanges)
        {
            changes.TeachersChanged(tenantId);
        }
        return Task.WhenAll(
            hub.Clients.Group(HubGroups.Admins(tenantId)).PresenceChanged(presence),
            hub.Clients.Group(HubGroups.User(tenantId, presence.TeacherId)).PresenceChanged(presence));
    }
}
