using System.Collections.Concurrent;
using Callern.Platform.Calls;
using Npgsql;

namespace Callern.Platform.Classroom;

/// <summary>
/// Each participant's latest stats sample, in this node's memory: a sample arrives every 4 s per
/// side (with the media confirmation), and the database keeps only the latest one, so the node
/// writes each participant's about once per heartbeat (<see cref="StatsFlusher"/>) instead of a
/// statement per sample: every second, in one statement, those that have waited a heartbeat, so
/// the writes spread over the heartbeat at each participant's own phase.
/// </summary>
public sealed class StatsBuffer
{
    private readonly ConcurrentDictionary<(Guid CallId, string UserId), PendingStats> _pending = new();

    /// <summary>
    /// The latest sample of a participant, how many came since the last write, when the latest came,
    /// and when the first of them came (<paramref name="Since"/>).
    /// </summary>
    public sealed record PendingStats(Guid TenantId, Guid CallId, string UserId, CallStatsSample Stats, DateTimeOffset At, int Count, DateTimeOffset Since);

    public void Keep(Guid tenantId, Guid callId, string userId, CallStatsSample stats, DateTimeOffset at) =>
        _pending.AddOrUpdate((callId, userId), _ => new PendingStats(tenantId, callId, userId, stats, at, 1, at),
            (_, previous) => previous with { Stats = stats, At = at, Count = previous.Count + 1 });

    /// <summary>
    /// Writes, in one statement, the kept samples waiting since <paramref name="pendingSince"/> or
    /// earlier; a write that fails keeps them for the next one (a newer sample wins).
    /// </summary>
    public async Task FlushAsync(NpgsqlDataSource db, DateTimeOffset pendingSince)
    {
        var taken = new List<PendingStats>();
        foreach (var entry in _pending)
        {
            // Only as seen: a sample that arrives meanwhile stays for the next flush.
            if (entry.Value.Since <= pendingSince && _pending.TryRemove(entry))
            {
                taken.Add(entry.Value);
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
                    (_, newer) => newer with { Count = newer.Count + pending.Count, Since = pending.Since });
            }
            throw;
        }
    }
}

/// <summary>Every second, writes the kept stats samples that have waited a hub heartbeat; all of them when the node stops.</summary>
public sealed class StatsFlusher(
    StatsBuffer buffer, NpgsqlDataSource db, Microsoft.Extensions.Options.IOptions<Signaling.SignalingOptions> signaling, TimeProvider time,
    ILogger<StatsFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(time.GetUtcNow() - TimeSpan.FromSeconds(signaling.Value.HeartbeatSeconds));
            }
        }
        catch (OperationCanceledException)
        {
            await FlushAsync(DateTimeOffset.MaxValue);
        }
    }

    private async Task FlushAsync(DateTimeOffset pendingSince)
    {
        try
        {
            await buffer.FlushAsync(db, pendingSince);
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Stats samples not written; kept for the next heartbeat");
        }
    }
}
