using Callern.Platform.Tenancy;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>Calls as the API shows them: one call, or a page of history.</summary>
public sealed class CallReads(NpgsqlDataSource db)
{
    public async Task<Call?> GetAsync(Guid tenantId, Guid callId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await CallStore.GetAsync(connection, tenantId, callId);
    }

    /// <summary>The call when the caller may read it (a participant, or the tenant's admin or service), else null.</summary>
    public async Task<Call?> VisibleCallAsync(Caller caller, Guid callId, bool participantsOnly = false)
    {
        var call = await GetAsync(caller.TenantId, callId);
        var participant = call is not null && (call.StudentId == caller.UserId || call.TeacherId == caller.UserId);
        return participant || (call is not null && !participantsOnly && caller.Role is Roles.Admin or Roles.Service) ? call : null;
    }

    public async Task<IReadOnlyList<Call>> ListAsync(Guid tenantId, string? studentId, string? teacherId, CallState? state, Guid? before, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await CallStore.ListAsync(connection, tenantId, studentId, teacherId, state, before, limit);
    }
}
