using System.Collections.Concurrent;
using Callern.Platform.Calls;
using Npgsql;

namespace Callern.Platform.Classroom;

/// <summary>
/// Each participant's latest stats sample, in this node's memory: a sample arrives every 2 s per
/// side (with the media confirmation), and the database keeps only the latest one, so the node
/// writes them all in one statement once per heartbeat (<see cref="StatsFlusher"/>) instead of a
/// statement per sample.
/// </summary>
public sealed class StatsBuffer
{
    private readonly ConcurrentDictionary<(Guid CallId, string UserId), PendingStats> _pending = new();

    /// <summary>The latest sample of a participant, how many came since the last write, and when the latest came.</summary>
    public sealed record PendingStats(Guid TenantId, Guid CallId, string UserId, CallStatsSample Stats, DateTimeOffset At, int Count);

    public void Keep(Guid tenantId, Guid callId, string userId, CallStatsSample stats, DateTimeOffset at) =>
        _pending.AddOrUpdate((callId, userId), _ => new PendingStats(tenantId, callId, userId, stats, at, 1),
            (_, previous) => previous with { Stats = stats, At = at, Count = previous.Count + 1 });

    /// <summary>Writes every kept sample in one statement; a write that fails keeps them for the next one (a newer sample wins).</summary>
    public async Task FlushAsync(NpgsqlDataSource db)
    {
        var taken = new List<PendingStats>();
        foreach (var key in _pending.Keys)
        {
            if (_pending.TryRemove(key, out var pending))
            {
                taken.Add(pending);
            }
        }
        if (taken.Count == 0)
        {
            return;
        }
        try
        {
            await using var connection = await db.OpenConnectionAsync();
            await ClassroomStore.SaveStatsAsync(connection, taken);
        }
        catch
        {
            foreach (var pending in taken)
            {
                _pending.AddOrUpdate((pending.CallId, pending.UserId), pending,
                    (_, newer) => newer with { Count = newer.Count + pending.Count });
            }
            throw;
        }
    }
}

/// <summary>Writes the kept stats samples once per hub heartbeat, and once more when the node stops.</summary>
public sealed class StatsFlusher(
    StatsBuffer buffer, NpgsqlDataSource db, Microsoft.Extensions.Options.IOptions<Signaling.SignalingOptions> signaling, TimeProvider time,
    ILogger<StatsFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(signaling.Value.HeartbeatSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync();
            }
        }
        catch (OperationCanceledException)
        {
            await FlushAsync();
        }
    }

    private async Task FlushAsync()
    {
        try
        {
            await buffer.FlushAsync(db);
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Stats samples not written; kept for the next heartbeat");
        }
    }
}
