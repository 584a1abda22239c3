using Callern.Platform.Infrastructure;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Signaling;

/// <summary>
/// Runs on every node: removes connection rows of dead nodes and fires due presence deadlines
/// (claimed with FOR UPDATE SKIP LOCKED, so nodes never fire the same one), then tells the admins.
/// Time comes from the <see cref="TimeProvider"/>, so tests drive it with a fake clock.
/// </summary>
public sealed class PresenceSweeper(
    PresenceStore store, PresenceService presence, IOptions<SignalingOptions> options, TimeProvider time, ILogger<PresenceSweeper> logger)
    : BackgroundService
{
    private const int Batch = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.SweepSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync();
            }
            catch (Exception exception) when (exception is NpgsqlException || ApiConventions.IsBackplaneFailure(exception))
            {
                // The database, or the backplane that tells the admins, was away: a crash here would stop the node.
                logger.LogWarning(exception, "Presence sweep failed; retrying on the next tick");
            }
        }
    }

    private async Task SweepAsync()
    {
        var now = time.GetUtcNow();
        await store.SweepStaleConnectionsAsync(now.AddSeconds(-options.Value.StaleConnectionSeconds), now);
        IReadOnlyList<(Guid TenantId, TeacherPresence Presence)> fired;
        do
        {
            fired = await store.FireDueAsync(now, Batch);
            foreach (var (tenantId, teacher) in fired)
            {
                await presence.NotifyAsync(tenantId, teacher);
            }
        }
        while (fired.Count == Batch);
    }
}
