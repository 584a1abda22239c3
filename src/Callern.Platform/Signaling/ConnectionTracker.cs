using System.Collections.Concurrent;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Signaling;

/// <summary>
/// This node's live hub connections: a row per connection in PostgreSQL (presence and billing read
/// it from any node) and, in memory, the connections whose last_seen_at this node refreshes.
/// </summary>
public sealed class ConnectionTracker(PresenceStore store, SettingsStore settings, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, HubCallerContext> _live = new(StringComparer.Ordinal);
    private volatile bool _stopping;

    /// <summary>Identifies this process's rows, for operators reading hub_connections.</summary>
    public Guid NodeId { get; } = Guid.CreateVersion7();

    public ICollection<string> LiveConnectionIds => _live.Keys;

    public async Task OpenAsync(HubCallerContext connection, Caller caller)
    {
        if (_stopping)
        {
            throw HubErrors.Create(HubErrors.Unavailable, "This node is stopping; connect again (the balancer sends you to another node).");
        }
        await store.OpenConnectionAsync(connection.ConnectionId, caller.TenantId, caller.UserId, caller.Role, NodeId, time.GetUtcNow());
        _live[connection.ConnectionId] = connection;
        if (_stopping)
        {
            // EndAll ran meanwhile, without this one.
            connection.Abort();
        }
    }

    /// <summary>
    /// The node is stopping (a deploy, a scale-down): every connection ends now, while the node's
    /// services still run to record it, and its client reconnects through the balancer to another
    /// node. Left open, a connection that may resume (stateful reconnect) would hold the shutdown
    /// for its whole timeout while its client confirmed media to a node that no longer records it.
    /// </summary>
    public void EndAll()
    {
        // Until the node stops listening, clients that reconnect at once may still reach it: they are refused.
        _stopping = true;
        foreach (var connection in _live.Values)
        {
            connection.Abort();
        }
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
/// The coarse heartbeat: every <see cref="SignalingOptions.HeartbeatSeconds"/> this node stamps
/// last_seen_at of all its connections, instead of a write per message. The stamps go out in
/// statements of at most <see cref="SignalingOptions.HeartbeatChunk"/> connections, spread over the
/// first half of the beat: a single UPDATE of 10,000 rows took a core of PostgreSQL for 60-70 ms at
/// once, and signals being relayed waited behind it. A node that dies stops stamping, and the
/// sweeper removes its rows.
/// </summary>
public sealed class ConnectionHeartbeat(
    ConnectionTracker tracker, PresenceStore store, IOptions<SignalingOptions> options, TimeProvider time, ILogger<ConnectionHeartbeat> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromSeconds(options.Value.HeartbeatSeconds);
        using var timer = new PeriodicTimer(period, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var chunks = tracker.LiveConnectionIds.Chunk(options.Value.HeartbeatChunk).ToList();
            for (var i = 0; i < chunks.Count; i++)
            {
                if (i > 0)
                {
                    await Task.Delay(period / 2 / chunks.Count, time, stoppingToken);
                }
                try
                {
                    await store.TouchAsync(chunks[i], time.GetUtcNow());
                }
                catch (NpgsqlException exception)
                {
                    // The next beat tries again; rows only go stale after several missed beats.
                    logger.LogWarning(exception, "Heartbeat of {Count} hub connections failed", chunks[i].Length);
                }
            }
        }
    }
}
