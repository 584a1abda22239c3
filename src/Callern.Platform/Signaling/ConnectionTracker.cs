using System.Collections.Concurrent;
using Callern.Platform.Tenancy;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Signaling;

/// <summary>
/// This node's live hub connections: a row per connection in PostgreSQL (presence and billing read
/// it from any node) and, in memory, the ids whose last_seen_at this node refreshes.
/// </summary>
public sealed class ConnectionTracker(PresenceStore store, SettingsStore settings, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, byte> _live = new(StringComparer.Ordinal);

    /// <summary>Identifies this process's rows, for operators reading hub_connections.</summary>
    public Guid NodeId { get; } = Guid.CreateVersion7();

    public ICollection<string> LiveConnectionIds => _live.Keys;

    public async Task OpenAsync(string connectionId, Caller caller)
    {
        await store.OpenConnectionAsync(connectionId, caller.TenantId, caller.UserId, caller.Role, NodeId, time.GetUtcNow());
        _live[connectionId] = 0;
    }

    public async Task CloseAsync(string connectionId, Caller caller)
    {
        _live.TryRemove(connectionId, out _);
        var now = time.GetUtcNow();
        var grace = caller.Role == Roles.Teacher ? (await settings.GetAsync(caller.TenantId)).PresenceGraceSeconds!.Value : 0;
        await store.CloseConnectionAsync(connectionId, now.AddSeconds(grace));
    }
}

/// <summary>
/// The coarse heartbeat: every <see cref="SignalingOptions.HeartbeatSeconds"/> one UPDATE stamps
/// all of this node's connections, instead of a write per message. A node that dies stops
/// stamping, and the sweeper removes its rows.
/// </summary>
public sealed class ConnectionHeartbeat(
    ConnectionTracker tracker, PresenceStore store, IOptions<SignalingOptions> options, TimeProvider time, ILogger<ConnectionHeartbeat> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.HeartbeatSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var ids = tracker.LiveConnectionIds.ToList();
            if (ids.Count == 0)
            {
                continue;
            }
            try
            {
                await store.TouchAsync(ids, time.GetUtcNow());
            }
            catch (NpgsqlException exception)
            {
                // The next beat tries again; rows only go stale after several missed beats.
                logger.LogWarning(exception, "Heartbeat of {Count} hub connections failed", ids.Count);
            }
        }
    }
}
