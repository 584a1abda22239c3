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

    public async Task<IReadOnlyList<Call>> ListAsync(Guid tenantId, string? studentId, string? teacherId, CallState? state, Guid? before, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await CallStore.ListAsync(connection, tenantId, studentId, teacherId, state, before, limit);
    }
}
